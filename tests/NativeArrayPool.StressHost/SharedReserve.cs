namespace NativeBuffers.StressHost;

/// <summary>
/// The shared pool of a fresh process reads <c>NATIVEARRAYPOOL_MAPPINGRESERVE</c> from the real environment (tests
/// elsewhere read options through a lookup). Prints the reserve the shared pool took, then what a 64 MiB rent, which
/// needs a new kernel mapping, did: with a reserve above vm.max_map_count no mapping may be added, so it is refused.
/// </summary>
internal static class SharedReserve
{
    public static int Run()
    {
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        Console.WriteLine($"shared pool: MappingReserve = {pool.GetStatistics().MappingReserve}, backend {pool.GetStatistics().Backend}");
        try
        {
            NativeBuffer<byte> buffer = pool.Rent(64 * 1024 * 1024);
            buffer[0] = 1;
            pool.Return(buffer);
            Console.WriteLine("rent 64 MiB: served");
        }
        catch (InsufficientMemoryException e)
        {
            Console.WriteLine($"rent 64 MiB: refused: {e.Message}");
        }
        Console.WriteLine("PASS");
        return 0;
    }
}
