using System.Buffers;

namespace NativeBuffers.StressHost;

/// <summary>
/// The shared pool of a fresh process, with <c>NATIVEARRAYPOOL_ZEROONRENT=1</c> in the real environment: a lease
/// ended by Dispose (a <see cref="NativeBuffer{T}"/>, a per-lease owner, a reused owner) must be zeroed like one
/// ended by Return, so the next rent of its size, which this thread's cache serves with the same memory, reads zero.
/// </summary>
internal static class SharedDispose
{
    private const int Size = 5 * 1024 + 3;

    public static int Run()
    {
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        Console.WriteLine($"shared pool: {pool}");

        NativeBuffer<byte> buffer = pool.Rent(Size);
        nint address = FillAndAddress(buffer.AsSpan());
        buffer.Dispose();
        NativeBuffer<byte> next = pool.Rent(Size);
        CheckZeroed(next.AsSpan(), address, "NativeBuffer<T>.Dispose");
        pool.Return(next);

        CheckOwners(NativeMemoryPool.Shared, "a per-lease owner's Dispose");
        CheckOwners(NativeMemoryPool.SharedReusingOwners, "a reused owner's Dispose");
        Console.WriteLine("PASS");
        return 0;
    }

    private static void CheckOwners(NativeMemoryPool pool, string what)
    {
        IMemoryOwner<byte> owner = pool.Rent(Size);
        nint address = FillAndAddress(owner.Memory.Span);
        owner.Dispose();
        using IMemoryOwner<byte> next = pool.Rent(Size);
        CheckZeroed(next.Memory.Span, address, what);
    }

    private static unsafe nint FillAndAddress(Span<byte> span)
    {
        span.Fill(0xAB);
        fixed (byte* first = span)
            return (nint)first;
    }

    private static unsafe void CheckZeroed(Span<byte> span, nint disposedAddress, string what)
    {
        fixed (byte* first = span)
        {
            // Only the same memory says anything about the Dispose: the thread's cache hands it back first.
            Checks.That((nint)first == disposedAddress, $"{what}: the next rent got other memory, so the check proves nothing");
        }
        int dirty = span.IndexOfAnyExcept((byte)0);
        Checks.That(dirty < 0, $"{what}: the next rent reads {span[Math.Max(dirty, 0)]:X2} at byte {dirty} (not zeroed)");
        Console.WriteLine($"{what}: zeroed");
    }
}
