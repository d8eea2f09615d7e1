using System.Buffers;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using CommunityToolkit.HighPerformance.Buffers;
using Microsoft.IO;

namespace NativeBuffers.Benchmarks;

/// <summary>
/// Append 1 GiB in 64 KiB writes into a growing buffer. The floor (baseline) writes into a pre-sized pooled
/// native buffer of 1 GiB: no growth at all, and its pages stay resident from run to run. Every grower starts
/// empty (or at one chunk) and grows as it goes.
/// </summary>
/// <remarks>
/// <see cref="NativeResizeDoubling"/> is what <see cref="NativeBufferWriter{T}"/> does underneath (write until
/// full, then <see cref="NativeArrayPool{T}.Resize"/> to double); both rows are here, so the writer's own
/// overhead shows.
/// </remarks>
[HeavyJob]
public unsafe class AppendBenchmarks
{
    private const int Chunk = 64 << 10;
    private const long Total = 1L << 30;

    private static readonly RecyclableMemoryStreamManager s_streams = new();
    private readonly byte[] _chunk = new byte[Chunk];

    [GlobalSetup]
    public void Setup() => new Random(42).NextBytes(_chunk);

    [Benchmark(Baseline = true)]
    public void FloorPresizedNative() => FloorPresized(NativeArrayPool<byte>.Shared);

    /// <summary>The pooled floor on <paramref name="pool"/> (the append driver keeps it out of the shared pool's history).</summary>
    public void FloorPresized(NativeArrayPool<byte> pool)
    {
        NativeBuffer<byte> buffer = pool.Rent(Total);
        for (long written = 0; written < Total; written += Chunk)
            _chunk.CopyTo(buffer.AsSpan(written, Chunk));
        pool.Return(buffer);
    }

    /// <summary>
    /// The floor with fresh pages: a new pool per run, so the 1 GiB is mapped and faulted in (as huge pages) like
    /// the memory a growing buffer gains, then unmapped. The pooled floor above reuses resident pages.
    /// </summary>
    [Benchmark]
    public void FloorPresizedFresh()
    {
        using NativeArrayPool<byte> pool = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> buffer = pool.Rent(Total);
        for (long written = 0; written < Total; written += Chunk)
            _chunk.CopyTo(buffer.AsSpan(written, Chunk));
        pool.Return(buffer);
    }

    [Benchmark]
    public void NativeResizeDoubling()
    {
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        NativeBuffer<byte> buffer = pool.Rent(Chunk);
        for (long written = 0; written < Total; written += Chunk)
        {
            if (written + Chunk > buffer.Length)
                pool.Resize(ref buffer, buffer.Length * 2);
            _chunk.CopyTo(buffer.AsSpan(written, Chunk));
        }
        pool.Return(buffer);
    }

    [Benchmark]
    public void NativeBufferWriter()
    {
        using var writer = new NativeBufferWriter<byte>();
        for (long written = 0; written < Total; written += Chunk)
            writer.Write(_chunk);
    }

    [Benchmark]
    public void NativeMemoryReallocDoubling()
    {
        nuint capacity = Chunk;
        byte* buffer = (byte*)NativeMemory.Alloc(capacity);
        for (long written = 0; written < Total; written += Chunk)
        {
            if ((nuint)(written + Chunk) > capacity)
            {
                capacity *= 2;
                buffer = (byte*)NativeMemory.Realloc(buffer, capacity);
            }
            _chunk.CopyTo(new Span<byte>(buffer + written, Chunk));
        }
        NativeMemory.Free(buffer);
    }

    [Benchmark]
    public void ArrayPoolBufferWriter()
    {
        using var writer = new ArrayPoolBufferWriter<byte>(ArrayPool<byte>.Shared);
        for (long written = 0; written < Total; written += Chunk)
            writer.Write(_chunk);
    }

    [Benchmark]
    public void MemoryStream()
    {
        using var stream = new MemoryStream();
        for (long written = 0; written < Total; written += Chunk)
            stream.Write(_chunk, 0, Chunk);
    }

    [Benchmark]
    public void RecyclableMemoryStream()
    {
        using RecyclableMemoryStream stream = s_streams.GetStream();
        for (long written = 0; written < Total; written += Chunk)
            stream.Write(_chunk, 0, Chunk);
    }

    [Benchmark]
    public void ListOfByte()
    {
        var list = new List<byte>();
        for (long written = 0; written < Total; written += Chunk)
            list.AddRange((ReadOnlySpan<byte>)_chunk);
        GC.KeepAlive(list);
    }
}
