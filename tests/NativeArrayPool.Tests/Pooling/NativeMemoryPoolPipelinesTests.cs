using System.Buffers;
using System.IO.Pipelines;
using AnonymousPipeClientStream = System.IO.Pipes.AnonymousPipeClientStream;
using AnonymousPipeServerStream = System.IO.Pipes.AnonymousPipeServerStream;
using PipeDirection = System.IO.Pipes.PipeDirection;
using System.Security.Cryptography;
using System.Runtime.InteropServices;
using NativeBuffers.Pooling;
using FsCheck;
using FsCheck.Fluent;

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// NativeMemoryPool under System.IO.Pipelines: real pipes, producer and consumer on different threads,
/// random write sizes and segment sizes, SHA-256 of both ends compared, and the pool's counters checked so
/// the tests prove the pool served the buffers.
/// </summary>
public class NativeMemoryPoolPipelinesTests
{
    private const long PipeBytes = 256L << 20;
    private const long StreamBytes = 256L << 20;

    // One block of random bytes that producers copy from at random offsets: cheap to make, never periodic at chunk size.
    private static readonly byte[] s_source = MakeSource();

    private static byte[] MakeSource()
    {
        var bytes = new byte[4 << 20];
        new Random(12345).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task A_quarter_gigabyte_crosses_a_pipe_intact()
    {
        var random = new Random(2026);
        int minimumSegmentSize = random.Next(1, 256 * 1024);
        var pipe = new Pipe(new PipeOptions(pool: NativeMemoryPool.Shared, minimumSegmentSize: minimumSegmentSize,
            readerScheduler: PipeScheduler.ThreadPool, writerScheduler: PipeScheduler.ThreadPool, useSynchronizationContext: false));
        long rentsBefore = NativeMemoryPool.Shared.GetStatistics().Rents;

        Task<(byte[] Hash, int Producer)> producer = OnOwnThread(() => Produce(pipe.Writer, PipeBytes, seed: 1));
        Task<(byte[] Hash, long Bytes, int Consumer)> consumer = OnOwnThread(() => Consume(pipe.Reader));
        var (sent, producerThread) = await producer;
        var (received, count, consumerThread) = await consumer;

        Assert.Equal(PipeBytes, count);
        Assert.Equal(Convert.ToHexString(sent), Convert.ToHexString(received));
        Assert.NotEqual(producerThread, consumerThread);
        // Segments are at most twice the larger of minimumSegmentSize and the 64 KiB size hints, so a pipe that
        // took its buffers from the pool rented at least this many times.
        long largestSegment = 2L * Math.Max(minimumSegmentSize, 64 * 1024);
        Assert.True(NativeMemoryPool.Shared.GetStatistics().Rents - rentsBefore >= PipeBytes / largestSegment,
            "the pipe did not rent its segments from NativeMemoryPool.Shared");
    }

    [Fact]
    public async Task Stream_reader_and_writer_over_a_kernel_pipe_keep_the_data_intact()
    {
        using var pool = new NativeMemoryPool();
        var random = new Random(77);
        using var server = new AnonymousPipeServerStream(PipeDirection.Out);
        using var client = new AnonymousPipeClientStream(PipeDirection.In, server.ClientSafePipeHandle);
        PipeWriter writer = PipeWriter.Create(server, new StreamPipeWriterOptions(pool: pool, minimumBufferSize: random.Next(1, 128 * 1024), leaveOpen: true));
        PipeReader reader = PipeReader.Create(client, new StreamPipeReaderOptions(pool: pool, bufferSize: random.Next(1, 128 * 1024), leaveOpen: true));

        Task<(byte[] Hash, int Producer)> producer = OnOwnThread(() =>
        {
            var result = Produce(writer, StreamBytes, seed: 2);
            server.Dispose(); // end of stream for the reader
            return result;
        });
        Task<(byte[] Hash, long Bytes, int Consumer)> consumer = OnOwnThread(() => Consume(reader));
        var (sent, producerThread) = await producer;
        var (received, count, consumerThread) = await consumer;

        Assert.Equal(StreamBytes, count);
        Assert.NotEqual(producerThread, consumerThread);
        Assert.Equal(Convert.ToHexString(sent), Convert.ToHexString(received));
        NativePoolStatistics statistics = pool.GetStatistics();
        Assert.True(statistics.Rents > 100, $"only {statistics.Rents} rents: the stream pipes did not use the pool");
        Assert.Equal(statistics.Rents, statistics.Returns); // both ends completed: every buffer came back
    }

    [Fact]
    public void Any_chunking_and_segment_size_delivers_the_same_bytes_and_returns_every_buffer()
    {
        Gen<int[]> chunkings = Gen.Choose(0, 70_000).ArrayOf().Select(a => a.Take(40).ToArray());
        Arbitrary<(int[] Chunks, int Segment, bool ViaGetSpan)> cases =
            (from chunks in chunkings
             from segment in Gen.Choose(1, 300_000)
             from viaGetSpan in Gen.Elements(true, false)
             select (chunks, segment, viaGetSpan)).ToArbitrary();
        using var pool = new NativeMemoryPool();

        Prop.ForAll(cases, c =>
        {
            var pipe = new Pipe(new PipeOptions(pool: pool, minimumSegmentSize: c.Segment, pauseWriterThreshold: 0,
                readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, useSynchronizationContext: false));
            var expected = new MemoryStream();
            int offset = 0;
            foreach (int chunk in c.Chunks)
            {
                ReadOnlySpan<byte> data = s_source.AsSpan(offset % (s_source.Length - chunk), chunk);
                offset += 7919;
                Span<byte> target = c.ViaGetSpan ? pipe.Writer.GetSpan(chunk) : pipe.Writer.GetMemory(chunk).Span;
                data.CopyTo(target);
                pipe.Writer.Advance(chunk);
                expected.Write(data);
                if (chunk % 3 == 0)
                    pipe.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
            }
            pipe.Writer.Complete();

            var actual = new MemoryStream();
            while (true)
            {
                ReadResult result = pipe.Reader.ReadAsync().AsTask().GetAwaiter().GetResult();
                foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                    actual.Write(segment.Span);
                pipe.Reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                    break;
            }
            pipe.Reader.Complete();
            NativePoolStatistics statistics = pool.GetStatistics();
            return expected.ToArray().AsSpan().SequenceEqual(actual.ToArray()) && statistics.Rents == statistics.Returns;
        }).QuickCheckThrowOnFailure();
        Assert.True(pool.GetStatistics().Rents > 0);
    }

    /// <summary>Runs <paramref name="work"/> on a dedicated thread, so producer and consumer never share one.</summary>
    private static Task<T> OnOwnThread<T>(Func<T> work)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                completion.SetResult(work());
            }
            catch (Exception e)
            {
                completion.SetException(e);
            }
        }) { IsBackground = true };
        thread.Start();
        return completion.Task;
    }

    private static (byte[] Hash, int Thread) Produce(PipeWriter writer, long total, int seed)
    {
        var random = new Random(seed);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        int thread = Environment.CurrentManagedThreadId;
        long written = 0;
        while (written < total)
        {
            int size = (int)Math.Min(total - written, random.Next(1, 64 * 1024));
            int sizeHint = random.Next(0, 2) == 0 ? 0 : size;
            Memory<byte> memory = writer.GetMemory(sizeHint);
            size = Math.Min(size, memory.Length);
            ReadOnlySpan<byte> data = s_source.AsSpan(random.Next(0, s_source.Length - size), size);
            data.CopyTo(memory.Span);
            hash.AppendData(data);
            writer.Advance(size);
            written += size;
            if (random.Next(0, 4) == 0 || written == total)
            {
                FlushResult result = writer.FlushAsync().AsTask().GetAwaiter().GetResult();
                if (result.IsCompleted)
                    throw new InvalidOperationException("The reader stopped early.");
            }
        }
        writer.Complete();
        return (hash.GetHashAndReset(), thread);
    }

    private static (byte[] Hash, long Bytes, int Thread) Consume(PipeReader reader)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        int thread = Environment.CurrentManagedThreadId;
        long count = 0;
        while (true)
        {
            ReadResult result = reader.ReadAsync().AsTask().GetAwaiter().GetResult();
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                // Every segment the pipe hands out lives in a lease of the native pool, not in an array.
                if (!segment.IsEmpty && !MemoryMarshal.TryGetMemoryManager(segment, out NativeMemoryOwner? _))
                    throw new InvalidOperationException($"a {segment.Length}-byte segment is not native pool memory");
                hash.AppendData(segment.Span);
                count += segment.Length;
            }
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                break;
        }
        reader.Complete();
        return (hash.GetHashAndReset(), count, thread);
    }
}
