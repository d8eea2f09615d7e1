using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using FsCheck;
using FsCheck.Fluent;

namespace NativeBuffers.Tests.Collections;

public class NativeMemoryStreamTests
{
    public enum Kind
    {
        Write, WriteSpan, WriteByte, WriteAsync, Read, ReadSpan, ReadByte, ReadAsync, Seek, SetPosition, SetLength,
        SetCapacity, ToArray, CopyTo, CopyToAsync, WriteTo, Flush, Dispose,
        // Self-aliasing: the stream's own bytes as the source or target, or the stream as its own destination.
        WriteOwn, WriteAsyncOwn, ReadIntoOwn, ReadAsyncIntoOwn, CopyToSelf, CopyToAsyncSelf, WriteToSelf,
    }

    /// <summary>A is a length, position or offset; B an offset into an array or a seek origin; C a count.</summary>
    public sealed record Op(Kind Kind, int A, int B, int C);

    private static readonly Gen<Op> OpGen =
        from kind in Gen.Frequency(
            (12, Gen.Constant(Kind.Write)), (6, Gen.Constant(Kind.WriteSpan)), (4, Gen.Constant(Kind.WriteByte)), (3, Gen.Constant(Kind.WriteAsync)),
            (6, Gen.Constant(Kind.Read)), (4, Gen.Constant(Kind.ReadSpan)), (4, Gen.Constant(Kind.ReadByte)), (3, Gen.Constant(Kind.ReadAsync)),
            (8, Gen.Constant(Kind.Seek)), (5, Gen.Constant(Kind.SetPosition)), (6, Gen.Constant(Kind.SetLength)), (2, Gen.Constant(Kind.SetCapacity)),
            (2, Gen.Constant(Kind.ToArray)), (2, Gen.Constant(Kind.CopyTo)), (2, Gen.Constant(Kind.CopyToAsync)), (1, Gen.Constant(Kind.WriteTo)),
            (1, Gen.Constant(Kind.Flush)), (1, Gen.Constant(Kind.Dispose)),
            (4, Gen.Constant(Kind.WriteOwn)), (2, Gen.Constant(Kind.WriteAsyncOwn)), (2, Gen.Constant(Kind.ReadIntoOwn)), (2, Gen.Constant(Kind.ReadAsyncIntoOwn)),
            (2, Gen.Constant(Kind.CopyToSelf)), (2, Gen.Constant(Kind.CopyToAsyncSelf)), (2, Gen.Constant(Kind.WriteToSelf)))
        from a in Gen.Frequency((1, Gen.Choose(-300, -1)), (10, Gen.Choose(0, 600)), (1, Gen.Choose(600, 5000)))
        from b in Gen.Frequency((1, Gen.Choose(-2, -1)), (10, Gen.Choose(0, 3)), (2, Gen.Choose(4, 40)))
        from c in Gen.Frequency((1, Gen.Choose(-2, -1)), (10, Gen.Choose(0, 300)))
        select new Op(kind, a, b, c);

    private static Arbitrary<Op[]> Programs => Gen.Sized(size => Gen.ArrayOf(OpGen, size * 2)).ToArbitrary();

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // every growth moves the buffer, so a stale self-aliased source would show
    public void Random_programs_leave_the_same_state_as_MemoryStream(bool moving)
    {
        using NativeArrayPool<byte> pool = moving ? SelfAliasing.MovingPool<byte>() : NativeArrayPool<byte>.Create();
        Prop.ForAll(Programs, ops =>
        {
            using var reference = new MemoryStream();
            using var stream = new NativeMemoryStream(pool);
            bool disposed = false;
            for (int i = 0; i < ops.Length; i++)
            {
                Op op = ops[i];
                string step = $"step {i} {op}";
                if (disposed && (op.Kind == Kind.ToArray || (op.Kind == Kind.SetLength && op.A >= 0)))
                {
                    // Documented differences: a closed MemoryStream still hands out its array and refuses SetLength
                    // as unwritable; ours has given its memory back and reports disposal.
                    Assert.Throws<ObjectDisposedException>(() => Apply(stream, op, i));
                    continue;
                }
                Differential.Same(Differential.Capture(() => Apply(reference, op, i)), Differential.Capture(() => Apply(stream, op, i)), step);
                if (op.Kind == Kind.Dispose)
                    disposed = true;
                Assert.Equal(reference.CanRead, stream.CanRead);
                Assert.Equal(reference.CanWrite, stream.CanWrite);
                Assert.Equal(reference.CanSeek, stream.CanSeek);
                if (disposed)
                    continue;
                Assert.Equal(reference.Length, stream.Length);
                Assert.Equal(reference.Position, stream.Position);
                Assert.True(stream.Capacity >= stream.Length, step);
                Assert.Equal(reference.ToArray(), stream.ToArray());
                Assert.Equal(reference.ToArray(), stream.GetReadOnlySequence().ToArray());
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(300));

        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(stats.Rents, stats.Returns); // every stream gave its buffer back
    }

    /// <summary>Runs one operation and returns what a caller sees of it (data read, positions, copied bytes).</summary>
    private static string Apply(Stream s, Op op, int step)
    {
        switch (op.Kind)
        {
            case Kind.Write:
            {
                byte[]? data = op.B == -2 ? null : Data(Math.Max(op.A, 0) % 700, step);
                s.Write(data!, op.B, op.C);
                return "";
            }
            case Kind.WriteSpan:
                s.Write(Data(Math.Max(op.A, 0) % 700, step));
                return "";
            case Kind.WriteByte:
                s.WriteByte((byte)op.A);
                return "";
            case Kind.WriteAsync:
                s.WriteAsync(Data(Math.Max(op.C, 0), step).AsMemory()).AsTask().GetAwaiter().GetResult();
                return "";
            case Kind.Read:
            {
                byte[]? target = op.B == -2 ? null : new byte[Math.Max(op.A, 0) % 700];
                int n = s.Read(target!, op.B, op.C);
                return $"{n}:{Convert.ToHexString(target!, 0, n)}";
            }
            case Kind.ReadSpan:
            {
                var target = new byte[Math.Max(op.C, 0)];
                int n = s.Read(target);
                return $"{n}:{Convert.ToHexString(target, 0, n)}";
            }
            case Kind.ReadByte:
                return s.ReadByte().ToString();
            case Kind.ReadAsync:
            {
                var target = new byte[Math.Max(op.C, 0)];
                int n = s.ReadAsync(target.AsMemory()).AsTask().GetAwaiter().GetResult();
                return $"{n}:{Convert.ToHexString(target, 0, n)}";
            }
            case Kind.Seek:
                return s.Seek(op.A, (SeekOrigin)op.B).ToString();
            case Kind.SetPosition:
                s.Position = op.A;
                return "";
            case Kind.SetLength:
                s.SetLength(op.A);
                return "";
            case Kind.SetCapacity:
                if (s is MemoryStream m)
                    m.Capacity = op.A;
                else
                    ((NativeMemoryStream)s).Capacity = op.A;
                return "";
            case Kind.ToArray:
                return Convert.ToHexString(s is MemoryStream ms ? ms.ToArray() : ((NativeMemoryStream)s).ToArray());
            case Kind.CopyTo or Kind.CopyToAsync:
            {
                var destination = new MemoryStream();
                if (op.B == -2)
                    destination.Dispose(); // an unwritable destination
                Stream? target = op.B == -1 ? null : destination;
                int bufferSize = op.C == 0 ? 0 : 81920;
                if (op.Kind == Kind.CopyTo)
                    s.CopyTo(target!, bufferSize);
                else
                    s.CopyToAsync(target!, bufferSize).GetAwaiter().GetResult();
                return Convert.ToHexString(destination.ToArray());
            }
            case Kind.WriteTo:
            {
                // Positioned past its end, so that even a write of 0 bytes shows (it extends the destination).
                var destination = new MemoryStream { Position = op.B & 7 };
                if (s is MemoryStream ms2)
                    ms2.WriteTo(destination);
                else
                    ((NativeMemoryStream)s).WriteTo(destination);
                return Convert.ToHexString(destination.ToArray());
            }
            case Kind.Flush:
                s.Flush();
                return "";
            case Kind.Dispose:
                s.Dispose();
                return "";
            case Kind.WriteOwn:
            {
                (int start, int count) = OwnWindow(s, op);
                if (s is MemoryStream managed)
                    managed.Write(managed.GetBuffer(), start, count);
                else
                    s.Write(OwnBytes(s, start, count).Span);
                return "";
            }
            case Kind.WriteAsyncOwn:
            {
                (int start, int count) = OwnWindow(s, op);
                s.WriteAsync(OwnBytes(s, start, count)).AsTask().GetAwaiter().GetResult();
                return "";
            }
            case Kind.ReadIntoOwn:
            {
                (int start, int count) = OwnWindow(s, op);
                // The span overload on both: MemoryStream's array overload copies 8 bytes or fewer with a backward
                // loop, which is not a memmove when the window overlaps the bytes read and lies before them (seen:
                // 6 bytes read from 147 into 141). Its span overload, like ours, moves them as a memmove.
                return (s is MemoryStream managed ? managed.Read(managed.GetBuffer().AsSpan(start, count)) : s.Read(MemoryMarshal.AsMemory(OwnBytes(s, start, count)).Span)).ToString();
            }
            case Kind.ReadAsyncIntoOwn:
            {
                (int start, int count) = OwnWindow(s, op);
                Memory<byte> target = s is MemoryStream managed ? managed.GetBuffer().AsMemory(start, count) : MemoryMarshal.AsMemory(OwnBytes(s, start, count));
                return s.ReadAsync(target).AsTask().GetAwaiter().GetResult().ToString();
            }
            // These append up to the whole stream: past OwnLimit they are skipped, so programs stay small.
            case Kind.CopyToSelf when s.Length <= OwnLimit:
                s.CopyTo(s);
                return "";
            case Kind.CopyToAsyncSelf when s.Length <= OwnLimit:
                s.CopyToAsync(s).GetAwaiter().GetResult();
                return "";
            case Kind.WriteToSelf when s.Length <= OwnLimit:
                if (s is MemoryStream ms3)
                    ms3.WriteTo(ms3);
                else
                    ((NativeMemoryStream)s).WriteTo(s);
                return "";
            case Kind.CopyToSelf or Kind.CopyToAsyncSelf or Kind.WriteToSelf:
                return "skipped";
            default:
                throw new ArgumentOutOfRangeException(nameof(op));
        }
    }

    private const int OwnLimit = 32 << 10;

    /// <summary>A window [start, start+count) inside the stream's bytes: A picks the start, C the count (B = 0: to the end).</summary>
    private static (int Start, int Count) OwnWindow(Stream s, Op op)
    {
        int length = (int)Math.Min(s.Length, OwnLimit); // past the limit the window stays in the first OwnLimit bytes
        int start = Math.Max(op.A, 0) % (length + 1);
        int count = op.B == 0 ? length - start : Math.Min(Math.Max(op.C, 0), length - start);
        return (start, count);
    }

    /// <summary>The stream's own bytes in the window: MemoryStream's array, or memory in our native buffer.</summary>
    private static ReadOnlyMemory<byte> OwnBytes(Stream s, int start, int count) => s is MemoryStream m
        ? m.GetBuffer().AsMemory(start, count)
        : ((NativeMemoryStream)s).GetReadOnlySequence().Slice(start, count).First;

    private static byte[] Data(int length, int step)
    {
        var data = new byte[length];
        for (int i = 0; i < length; i++)
            data[i] = (byte)(step * 37 + i * 7 + 1);
        return data;
    }

    // Self-aliasing: the stream as its own source (see SelfAliasing), in the calls MemoryStream gets right.

    /// <summary>A stream and a MemoryStream holding the same <paramref name="length"/> bytes, each with capacity just that.</summary>
    private static (MemoryStream Reference, NativeMemoryStream Ours) SameStreams(int length, NativeArrayPool<byte> pool)
    {
        byte[] data = Data(length, 5);
        var reference = new MemoryStream(length);
        reference.Write(data);
        var ours = new NativeMemoryStream(length, pool);
        ours.Write(data);
        Assert.True(ours.Capacity == length || !BitOperations.IsPow2(length)); // full, so the next write grows
        return (reference, ours);
    }

    private static void AssertSameStreams(MemoryStream reference, NativeMemoryStream ours)
    {
        Assert.Equal(reference.Length, ours.Length);
        Assert.Equal(reference.Position, ours.Position);
        SelfAliasing.AssertSame<byte>(reference.ToArray(), ours.ToArray(), nameof(MemoryStream));
    }

    [Theory]
    [MemberData(nameof(SelfAliasing.Lengths), MemberType = typeof(SelfAliasing))]
    public void CopyTo_itself_appends_a_copy_like_MemoryStream(int length)
    {
        using NativeArrayPool<byte> pool = SelfAliasing.MovingPool<byte>();
        (MemoryStream reference, NativeMemoryStream ours) = SameStreams(length, pool);
        using (ours)
        {
            reference.Position = ours.Position = 0;
            reference.CopyTo(reference);
            ours.CopyTo(ours);
            AssertSameStreams(reference, ours);
        }
    }

    [Theory]
    [MemberData(nameof(SelfAliasing.Lengths), MemberType = typeof(SelfAliasing))]
    public async Task CopyToAsync_itself_appends_a_copy_like_MemoryStream(int length)
    {
        using NativeArrayPool<byte> pool = SelfAliasing.MovingPool<byte>();
        (MemoryStream reference, NativeMemoryStream ours) = SameStreams(length, pool);
        using (ours)
        {
            reference.Position = ours.Position = 3;
            await reference.CopyToAsync(reference);
            await ours.CopyToAsync(ours);
            AssertSameStreams(reference, ours);
        }
    }

    [Theory]
    [MemberData(nameof(SelfAliasing.Lengths), MemberType = typeof(SelfAliasing))]
    public void WriteTo_itself_finishes_and_writes_the_stream_once_like_MemoryStream(int length)
    {
        using NativeArrayPool<byte> pool = SelfAliasing.MovingPool<byte>();
        (MemoryStream reference, NativeMemoryStream ours) = SameStreams(length, pool);
        using (ours)
        {
            // First through a pass-through that gives up after twice the bytes: without a snapshot of the length,
            // WriteTo chased its own growth for ever, and the direct calls below would never return.
            reference.WriteTo(reference);
            ours.WriteTo(new PassThrough(ours, limit: 2 * ours.Length));
            AssertSameStreams(reference, ours);

            // At the end the stream doubles; from position 3 it overlaps itself and grows by 3 bytes.
            foreach (long position in new long[] { reference.Length, 3 })
            {
                reference.Position = ours.Position = position;
                reference.WriteTo(reference);
                ours.WriteTo(ours);
                AssertSameStreams(reference, ours);
            }
        }
    }

    /// <summary>Writes into <paramref name="target"/>, failing once more than <paramref name="limit"/> bytes went through.</summary>
    private sealed class PassThrough(Stream target, long limit) : Stream
    {
        private long _written;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _written += buffer.Length;
            if (_written > limit)
                throw new InvalidOperationException($"{_written} bytes written, more than the {limit} expected.");
            target.Write(buffer);
        }
    }

    [Theory]
    [MemberData(nameof(SelfAliasing.Lengths), MemberType = typeof(SelfAliasing))]
    public void Writing_its_own_bytes_reads_them_as_they_were_before_the_write(int length)
    {
        using NativeArrayPool<byte> pool = SelfAliasing.MovingPool<byte>();
        (MemoryStream reference, NativeMemoryStream ours) = SameStreams(length, pool);
        using (ours)
        {
            // At the end (grows), from the middle past the end (overlaps and grows), and from the start (no growth).
            foreach (long position in new long[] { length, length / 2, 7 })
            {
                long start = length / 3;
                int count = length / 2;
                reference.Position = ours.Position = position;
                reference.Write(reference.GetBuffer(), (int)start, count);
                ours.Write(ours.GetReadOnlySequence().Slice(start, count).First.Span);
                AssertSameStreams(reference, ours);
            }
        }
    }

    [Theory]
    [MemberData(nameof(SelfAliasing.Lengths), MemberType = typeof(SelfAliasing))]
    public async Task WriteAsync_of_its_own_memory_reads_it_as_it_was_before_the_write(int length)
    {
        using NativeArrayPool<byte> pool = SelfAliasing.MovingPool<byte>();
        (MemoryStream reference, NativeMemoryStream ours) = SameStreams(length, pool);
        using (ours)
        {
            reference.Position = ours.Position = length - 1;
            await reference.WriteAsync(reference.GetBuffer().AsMemory(0, length));
            await ours.WriteAsync(ours.GetReadOnlySequence().First);
            AssertSameStreams(reference, ours);
        }
    }

    [Fact]
    public void Reading_into_its_own_bytes_moves_them_like_MemoryStream()
    {
        using NativeArrayPool<byte> pool = SelfAliasing.MovingPool<byte>();
        (MemoryStream reference, NativeMemoryStream ours) = SameStreams(1000, pool);
        using (ours)
        {
            // Overlapping both ways: a read never grows, so it is a move within the buffer.
            foreach ((long position, int target) in new[] { (100L, 150), (400L, 300) })
            {
                reference.Position = ours.Position = position;
                Assert.Equal(reference.Read(reference.GetBuffer(), target, 200), ours.Read(MemoryMarshal.AsMemory(ours.GetReadOnlySequence().Slice(target, 200).First).Span));
                AssertSameStreams(reference, ours);
            }
        }
    }

    [Fact]
    public void Pooled_memory_reads_back_as_zeros_in_gaps_even_when_it_was_dirty()
    {
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { ThreadCaches = true });
        NativeBuffer<byte> dirty = pool.Rent(4096);
        dirty.AsSpan().Fill(0xEE);
        pool.Return(dirty); // the next rent of this class gets these bytes back

        using var stream = new NativeMemoryStream(4096, pool); // same size class: the thread cache hands the dirty block back
        stream.Position = 1000;
        stream.WriteByte(1);
        stream.SetLength(3000);
        byte[] all = stream.ToArray();
        Assert.Equal(3000, all.Length);
        Assert.All(all.AsSpan(0, 1000).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(1, all[1000]);
        Assert.All(all.AsSpan(1001).ToArray(), b => Assert.Equal(0, b));

        stream.SetLength(10); // truncate, then extend again: what was cut must not come back
        stream.SetLength(2000);
        Assert.All(stream.ToArray().AsSpan(10).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Sequence_chains_segments_over_data_larger_than_one_segment()
    {
        using var pool = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> lease = pool.Rent(10_000);
        for (int i = 0; i < 10_000; i++)
            lease[i] = (byte)(i * 13);
        ReadOnlySequence<byte> sequence = Collections.NativeSequenceAccess.Create(lease, 9_999, maxSegmentLength: 1000);
        Assert.Equal(9_999, sequence.Length);
        Assert.False(sequence.IsSingleSegment);
        int segments = 0;
        foreach (ReadOnlyMemory<byte> segment in sequence)
        {
            Assert.True(segment.Length <= 1000);
            segments++;
        }
        Assert.Equal(10, segments);
        Assert.Equal(lease.AsSpan(0, 9_999).ToArray(), sequence.ToArray());
        Assert.Equal(lease.AsSpan(4_321, 2_500).ToArray(), sequence.Slice(4_321, 2_500).ToArray());
        pool.Return(lease);
        Assert.Throws<ObjectDisposedException>(() => sequence.First.Span[0]);
    }
}
