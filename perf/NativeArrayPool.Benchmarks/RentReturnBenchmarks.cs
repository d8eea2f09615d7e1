using System.Buffers;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace NativeBuffers.Benchmarks;

/// <summary>
/// One Rent and one Return on one thread, the pool's steady state (the buffer comes from and goes back to the
/// thread's cache). ArrayPool&lt;byte&gt;.Shared is the baseline; ArrayPool&lt;byte&gt;.Create() uses its default
/// limits (1 MiB largest pooled array), so at 16 MiB it allocates a fresh array each time, as it would in an app.
/// </summary>
/// <remarks>
/// The MemoryPool category holds the owner-shaped facades: MemoryPool&lt;byte&gt;.Shared is its baseline, against
/// NativeMemoryPool.Shared (the default: a new owner per Rent, whose disposal is final) and
/// NativeMemoryPool.SharedReusingOwners (the opt-in: owners reused, no allocation). MemoryDiagnoser shows the bytes
/// each allocates per Rent + Dispose.
/// </remarks>
[MicroJob]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
[CategoriesColumn]
public class RentReturnBenchmarks
{
    private ArrayPool<byte> _created = null!;

    [Params(16, 4 << 10, 64 << 10, 1 << 20, 16 << 20)]
    public int Size;

    [GlobalSetup]
    public void Setup()
    {
        _created = ArrayPool<byte>.Create();
        // Warm every pool so the measured loop is the steady state, not the first mapping.
        NativeArrayPool<byte>.Shared.Return(NativeArrayPool<byte>.Shared.Rent(Size));
        ArrayPool<byte>.Shared.Return(ArrayPool<byte>.Shared.Rent(Size));
        _created.Return(_created.Rent(Size));
        NativeMemoryPool.Shared.Rent(Size).Dispose();
        NativeMemoryPool.SharedReusingOwners.Rent(Size).Dispose();
        NativeMemoryPool.SharedReusingOwners.Rent(Size).Dispose(); // both owners of the record made
        MemoryPool<byte>.Shared.Rent(Size).Dispose();
    }

    [Benchmark(Baseline = true), BenchmarkCategory("ArrayPool")]
    public void ArrayPoolShared()
    {
        byte[] array = ArrayPool<byte>.Shared.Rent(Size);
        ArrayPool<byte>.Shared.Return(array);
    }

    [Benchmark, BenchmarkCategory("ArrayPool")]
    public void ArrayPoolCreate()
    {
        byte[] array = _created.Rent(Size);
        _created.Return(array);
    }

    [Benchmark, BenchmarkCategory("ArrayPool")]
    public void NativeArrayPoolShared()
    {
        NativeBuffer<byte> buffer = NativeArrayPool<byte>.Shared.Rent(Size);
        NativeArrayPool<byte>.Shared.Return(buffer);
    }

    [Benchmark(Baseline = true), BenchmarkCategory("MemoryPool")]
    public void MemoryPoolShared()
    {
        using IMemoryOwner<byte> owner = MemoryPool<byte>.Shared.Rent(Size);
    }

    [Benchmark, BenchmarkCategory("MemoryPool")]
    public void NativeMemoryPoolShared()
    {
        using IMemoryOwner<byte> owner = NativeMemoryPool.Shared.Rent(Size);
    }

    [Benchmark, BenchmarkCategory("MemoryPool")]
    public void NativeMemoryPoolReusingOwners()
    {
        using IMemoryOwner<byte> owner = NativeMemoryPool.SharedReusingOwners.Rent(Size);
    }
}
