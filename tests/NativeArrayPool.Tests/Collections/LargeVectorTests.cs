using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using NativeBuffers.Arenas;
using NativeBuffers.Tests.Support;
using Xunit.Abstractions;

namespace NativeBuffers.Tests.Collections;

/// <summary>
/// Writes more than 3 GiB into a <see cref="NativeBufferWriter{T}"/> and a <see cref="NativeMemoryStream"/>,
/// checks the content at sampled offsets and end to end by SHA-256, and reads the pool's counters to show that
/// every growth of a huge buffer (2 MiB and up) moved pages (in place or mremap) and copied nothing.
/// </summary>
[Trait(Layer.Trait, Layer.Linux)]
public class LargeVectorTests(ITestOutputHelper output)
{
    /// <summary>3 GiB + 100 MiB + an odd tail, so the last segment and the last write are partial.</summary>
    private const long TotalBytes = (3L << 30) + (100L << 20) + 12_345;
    private const int LargeWrite = 16 << 20;
    private const long SmallPhaseBytes = 1 << 20; // written in small pieces first, so the small steps run too

    private static readonly Lazy<byte[]> s_expectedHash = new(() =>
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] scratch = new byte[LargeWrite];
        for (long offset = 0; offset < TotalBytes; offset += scratch.Length)
        {
            Span<byte> piece = scratch.AsSpan(0, (int)Math.Min(scratch.Length, TotalBytes - offset));
            Pattern.Fill(offset, piece);
            hash.AppendData(piece);
        }
        return hash.GetHashAndReset();
    });

    [Fact]
    public void BufferWriter_holds_more_than_3_GiB_and_grows_without_copying_large_steps()
    {
        var phases = new Phases();
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = MemoryBackend.Linux });
        var steps = new GrowthSteps();
        using (var writer = new NativeBufferWriter<byte>(pool))
        {
            steps.Observe(writer.Capacity);
            int small = 1;
            while (writer.WrittenCount < TotalBytes)
            {
                long offset = writer.WrittenCount;
                int hint = offset < SmallPhaseBytes ? small = small * 7 % 3_001 + 1 : LargeWrite;
                Span<byte> span = writer.GetSpan(hint);
                steps.Observe(writer.Capacity);
                int n = (int)Math.Min(Math.Min(span.Length, hint), TotalBytes - offset);
                Pattern.Fill(offset, span[..n]);
                writer.Advance(n);
            }
            phases.Lap("write");
            Assert.Equal(TotalBytes, writer.WrittenCount);
            Assert.Throws<InvalidOperationException>(() => writer.WrittenSpan.Length);
            ReadOnlySequence<byte> written = writer.WrittenSequence;
            Assert.Equal(TotalBytes, written.Length);
            Assert.False(written.IsSingleSegment);
            VerifySamples(written);
            phases.Lap("sampled reads");
            byte[] actualHash = Hash(written);
            phases.Lap("hash");
            Assert.Equal(Convert.ToHexString(ExpectedHash(phases)), Convert.ToHexString(actualHash));
        }
        Report("NativeBufferWriter<byte>", phases, pool.GetStatistics(), steps);
        AssertLargeStepsMovedPages(pool.GetStatistics(), steps);
    }

    /// <summary>
    /// A <see cref="NativeList{T}"/> of 2 GiB + 4 KiB bytes: the searches cross the 2^30-element chunks they walk and
    /// int.MaxValue, the sort takes the long-index partition (the list is longer than a span) and span-sorts the
    /// pieces, and the int count of ICollection&lt;T&gt; refuses. Mostly 7s, with markers on both sides of the chunk
    /// and int.MaxValue boundaries, so one three-way partition pass around 7 leaves only tiny pieces to span-sort.
    /// </summary>
    [Fact]
    public void NativeList_of_more_than_int_MaxValue_bytes_searches_and_sorts_by_long_index()
    {
        const long count = int.MaxValue + 4097L;
        const long chunk = 1L << 30;
        var phases = new Phases();
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = MemoryBackend.Linux });
        using var list = new NativeList<byte>(count, pool);
        byte[] sevens = new byte[LargeWrite];
        sevens.AsSpan().Fill(7);
        while (list.Count < count)
            list.AddRange(sevens.AsSpan(0, (int)Math.Min(sevens.Length, count - list.Count)));
        // Not at 0, count/2 or count-1: the partition's pivot is the median of those three, and should be 7.
        (long Index, byte Value)[] markers =
        [
            (5, 3), (chunk - 1, 200), (chunk, 1), (count / 3, 100),
            (int.MaxValue - 1, 9), (int.MaxValue, 0), (int.MaxValue + 1L, 255), (count - 2, 2),
        ];
        foreach ((long index, byte value) in markers)
            list[index] = value;
        phases.Lap("fill");

        Assert.Throws<OverflowException>(() => ((ICollection<byte>)list).Count);
        Assert.Throws<OverflowException>(() => list.Count());
        Assert.Equal(int.MaxValue, list.IndexOf(0));
        Assert.Equal(int.MaxValue + 1L, list.IndexOf(255));
        Assert.Equal(int.MaxValue + 2L, list.IndexOf(7, int.MaxValue));
        Assert.Equal(count - 2, list.LastIndexOf(2));
        Assert.Equal(5, list.LastIndexOf(3)); // backwards across both chunk boundaries
        Assert.Equal(chunk, list.LastIndexOf(1, chunk + 10, 11));
        Assert.Equal(-1, list.IndexOf(42));
        bool found = list.Contains(42); // the method, not xunit's walk of 2 G elements
        Assert.False(found);
        byte[] window = new byte[4];
        list.CopyTo(int.MaxValue - 1L, window);
        Assert.Equal([9, 0, 255, 7], window);
        phases.Lap("searches");

        list.Sort();
        phases.Lap("sort");
        Assert.Equal(count, list.Count);
        Assert.Equal([0, 1, 2, 3], list.AsSpan(0, 4).ToArray());
        Assert.Equal([9, 100, 200, 255], list.AsSpan(count - 4, 4).ToArray());
        for (long at = 4; at < count - 4; at += chunk)
            Assert.Equal(-1, list.AsSpan(at, (int)Math.Min(chunk, count - 4 - at)).IndexOfAnyExcept((byte)7));
        Assert.Equal(count - 2, list.BinarySearch(200));
        Assert.Equal(~(count - 4), list.BinarySearch(8));
        Assert.Equal(~(count - 1), list.BinarySearch(250));
        Assert.True(list.Remove(255));
        Assert.Equal(count - 5, list.LastIndexOf(7));
        phases.Lap("checks");
        output.WriteLine($"NativeList<byte> of {count:N0} elements: {phases}");
    }

    [Fact]
    public async Task MemoryStream_holds_more_than_3_GiB_and_grows_without_copying_large_steps()
    {
        var phases = new Phases();
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = MemoryBackend.Linux });
        var steps = new GrowthSteps();
        byte[] scratch = new byte[LargeWrite];
        using (var stream = new NativeMemoryStream(pool))
        {
            steps.Observe(stream.Capacity);
            int small = 1;
            while (stream.Length < TotalBytes)
            {
                long offset = stream.Length;
                int n = (int)Math.Min(offset < SmallPhaseBytes ? small = small * 7 % 3_001 + 1 : LargeWrite, TotalBytes - offset);
                Pattern.Fill(offset, scratch.AsSpan(0, n));
                stream.Write(scratch, 0, n);
                steps.Observe(stream.Capacity);
            }
            phases.Lap("write");
            Assert.Equal(TotalBytes, stream.Length);
            Assert.Equal(TotalBytes, stream.Position);
            Assert.Throws<InvalidOperationException>(() => stream.ToArray());

            // Read back through the Stream API around 2 GiB and 3 GiB, where int positions would break.
            foreach (long at in new[] { int.MaxValue - 3L, 3L << 30, TotalBytes - 100 })
            {
                stream.Position = at;
                byte[] read = new byte[100];
                Assert.Equal(100, stream.Read(read));
                byte[] expected = new byte[100];
                Pattern.Fill(at, expected);
                Assert.Equal(expected, read);
            }
            VerifySamples(stream.GetReadOnlySequence());
            phases.Lap("sampled reads");
            // End to end through CopyToAsync, which hands the destination one segment (≤ 1 GiB) at a time.
            stream.Position = 0;
            using var hashing = new HashingStream();
            await stream.CopyToAsync(hashing);
            phases.Lap("CopyToAsync into SHA-256");
            Assert.Equal(TotalBytes, stream.Position);
            Assert.Equal(TotalBytes, hashing.Length);
            Assert.Equal(Convert.ToHexString(ExpectedHash(phases)), Convert.ToHexString(hashing.GetHash()));
        }
        Report("NativeMemoryStream", phases, pool.GetStatistics(), steps);
        AssertLargeStepsMovedPages(pool.GetStatistics(), steps);
    }

    /// <summary>The expected hash, computed once per process (both tests share it); timed when this test computed it.</summary>
    private static byte[] ExpectedHash(Phases phases)
    {
        bool computed = !s_expectedHash.IsValueCreated;
        byte[] hash = s_expectedHash.Value;
        if (computed)
            phases.Lap("expected hash (generate + SHA-256)");
        return hash;
    }

    private static void AssertLargeStepsMovedPages(NativePoolStatistics stats, GrowthSteps steps)
    {
        Assert.Equal(stats.Rents, stats.Returns); // the collection gave everything back
        Assert.Equal(steps.Small + steps.Large, stats.GrowsInPlace + stats.GrowsRemappedFixed + stats.GrowsRemapped + stats.GrowsCopied);
        // Every growth of a huge buffer (2 MiB and up) moved pages or absorbed neighbours...
        Assert.True(stats.GrowsInPlace + stats.GrowsRemappedFixed + stats.GrowsRemapped >= steps.Large, $"{stats}");
        // ...so all the copying was of buffers below 2 MiB (small steps, and the one copy of at most 1 MiB that keeps a
        // buffer crossing into the huge space 2 MiB-aligned): less in total than one 2 MiB buffer. One copied huge
        // step would be 2 MiB or more on its own.
        Assert.True(stats.BytesCopied < SizeClasses.HugeSize, $"{stats}");
        Assert.True(steps.Large >= 7, $"only {steps.Large} huge-buffer steps (32 MiB → 4 GiB is 7): the test did not grow far enough to show anything");
    }

    private static void VerifySamples(ReadOnlySequence<byte> data)
    {
        var random = new Random(7);
        byte[] actual = new byte[4096], expected = new byte[4096];
        for (int i = 0; i < 256; i++)
        {
            long at = i switch
            {
                0 => 0,
                1 => TotalBytes - actual.Length,
                2 => (1L << 30) - 2048, // across the first segment boundary
                _ => random.NextInt64(TotalBytes - actual.Length),
            };
            data.Slice(at, actual.Length).CopyTo(actual);
            Pattern.Fill(at, expected);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"content differs at offset {at}");
        }
    }

    private static byte[] Hash(ReadOnlySequence<byte> data)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (ReadOnlyMemory<byte> segment in data)
            hash.AppendData(segment.Span);
        return hash.GetHashAndReset();
    }

    /// <summary>A write-only stream that hashes what it is given.</summary>
    private sealed class HashingStream : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long _length;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public byte[] GetHash() => _hash.GetHashAndReset();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _hash.AppendData(buffer);
            _length += buffer.Length;
        }
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        protected override void Dispose(bool disposing)
        {
            _hash.Dispose();
            base.Dispose(disposing);
        }
    }

    private void Report(string what, Phases phases, NativePoolStatistics stats, GrowthSteps steps) =>
        output.WriteLine(
            $"{what}: {TotalBytes:N0} bytes, {phases}. " +
            $"growth steps: {steps.Small} from buffers below 2 MiB, {steps.Large} from huge buffers (final capacity {steps.LastCapacity:N0} B). " +
            $"pool: GrowsInPlace={stats.GrowsInPlace} GrowsRemappedFixed={stats.GrowsRemappedFixed} GrowsRemapped={stats.GrowsRemapped} " +
            $"GrowsCopied={stats.GrowsCopied} BytesCopied={stats.BytesCopied:N0} MovesDeclinedByBudget={stats.MovesDeclinedByBudget} " +
            $"MovesFailed={stats.MovesFailed} PeakKernelMappings={stats.PeakKernelMappings} Backend={stats.Backend}");

    /// <summary>Wall-clock time per phase, for the report only (no timing is asserted).</summary>
    private sealed class Phases
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly List<string> _laps = new();
        private TimeSpan _last;

        public void Lap(string name)
        {
            TimeSpan now = _clock.Elapsed;
            _laps.Add($"{name} {(now - _last).TotalSeconds:F1} s");
            _last = now;
        }

        public override string ToString() => $"{_clock.Elapsed.TotalSeconds:F1} s in all ({string.Join(", ", _laps)})";
    }

    /// <summary>Counts capacity changes, split by the size grown from: below 2 MiB (small), or a huge buffer (large).</summary>
    private sealed class GrowthSteps
    {
        public long LastCapacity { get; private set; } = -1;
        public int Small { get; private set; }
        public int Large { get; private set; }

        public void Observe(long capacity)
        {
            if (LastCapacity >= 0 && capacity != LastCapacity)
            {
                if (LastCapacity >= SizeClasses.HugeSize)
                    Large++;
                else if (LastCapacity > 0)
                    Small++;
            }
            LastCapacity = capacity;
        }
    }

    /// <summary>
    /// The test data as a function of the offset: each MiB is one of 17 random blocks, chosen by a hash of the MiB's
    /// index, with the index stamped in its first 8 bytes. Cheap to produce (a copy), and no two MiBs are alike, so a
    /// page moved to the wrong place or a stale copy changes what is read.
    /// </summary>
    private static class Pattern
    {
        private const int BlockShift = 20;
        private const int BlockSize = 1 << BlockShift;
        private static readonly byte[][] s_blocks = CreateBlocks();

        private static byte[][] CreateBlocks()
        {
            var random = new Random(2026);
            var blocks = new byte[17][];
            for (int i = 0; i < blocks.Length; i++)
            {
                blocks[i] = new byte[BlockSize];
                random.NextBytes(blocks[i]);
            }
            return blocks;
        }

        public static void Fill(long offset, Span<byte> destination)
        {
            Span<byte> stamp = stackalloc byte[sizeof(long)];
            while (!destination.IsEmpty)
            {
                long index = offset >> BlockShift;
                int within = (int)(offset & (BlockSize - 1));
                int n = Math.Min(destination.Length, BlockSize - within);
                byte[] block = s_blocks[(int)(((ulong)index * 0x9E3779B97F4A7C15UL) % (ulong)s_blocks.Length)];
                block.AsSpan(within, n).CopyTo(destination);
                if (within < sizeof(long))
                {
                    BinaryPrimitives.WriteInt64LittleEndian(stamp, index);
                    int stampBytes = Math.Min(sizeof(long) - within, n);
                    stamp.Slice(within, stampBytes).CopyTo(destination);
                }
                destination = destination[n..];
                offset += n;
            }
        }
    }
}
