// Child process of LeaseGuardTests: proves that guarded mode turns a stale write into a fault at the write, even
// after the same size has been rented again (the quarantine must not hand the buffer straight back out).
//   args[0] = "span"      write through a Span<byte> taken before Return
//   args[0] = "pointer"   write through a byte* taken before Return
//   args[0] = "memory"    NativeMemoryPool: Memory<byte>.Span of a disposed owner must throw; then write through
//                         the pointer its MemoryHandle (Pin) gave before Dispose
//   args[0] = "resize-copy", "resize-remapfixed", "resize-remap"
//                         Resize with only that growth path, then write through a span of the range it vacated
//   args[0] = "control"   the same steps as "span", but the write goes to a buffer that is still rented (must not crash)
// Markers on stdout let the parent see how far it got: BEFORE-WRITE is flushed right before the write,
// AFTER-WRITE only if the write did not fault.
using System.Buffers;
using NativeBuffers;

const int Size = 1 << 20;
string mode = args.Length > 0 ? args[0] : "span";
if (mode == "memory")
    return StaleMemory();
if (mode.StartsWith("resize-", StringComparison.Ordinal))
    return VacatedByResize(mode);

using var pool = NativeArrayPool<byte>.Create(Options(GrowthPaths.All));
NativeBuffer<byte> buffer = pool.Rent(Size);
buffer.AsSpan().Fill(1);
unsafe
{
    byte* pointer = buffer.Pointer;
    Span<byte> span = buffer.AsSpan();
    nint address = (nint)pointer;
    if (mode != "control")
        pool.Return(buffer);
    // The rent that used to take the quarantined buffer back out: it must get other memory.
    NativeBuffer<byte> next = pool.Rent(Size);
    Report(pool.GetStatistics(), reused: (nint)next.Pointer == address);
    if (mode == "pointer")
        pointer[12345] = 42;
    else
        span[12345] = 42;
    pool.Return(next);
}
Console.Out.WriteLine("AFTER-WRITE");
Console.Out.Flush();
if (mode == "control")
    pool.Return(buffer);
return 0;

static unsafe int StaleMemory()
{
    using var pool = new NativeMemoryPool(Options(GrowthPaths.All));
    IMemoryOwner<byte> owner = pool.Rent(Size);
    Memory<byte> memory = owner.Memory;
    memory.Span.Fill(1);
    MemoryHandle pin = memory.Pin();
    byte* pointer = (byte*)pin.Pointer;
    owner.Dispose();
    using IMemoryOwner<byte> next = pool.Rent(Size);
    fixed (byte* nextPointer = next.Memory.Span)
        Report(pool.GetStatistics(), reused: nextPointer == pointer);
    try
    {
        memory.Span[12345] = 42;
        Console.Out.WriteLine("MEMORY-SPAN-WROTE");
    }
    catch (ObjectDisposedException)
    {
        Console.Out.WriteLine("MEMORY-SPAN-THREW");
    }
    Console.Out.Flush();
    pointer[12345] = 42;
    Console.Out.WriteLine("AFTER-WRITE");
    Console.Out.Flush();
    return 0;
}

static unsafe int VacatedByResize(string mode)
{
    GrowthPaths path = mode switch
    {
        "resize-copy" => GrowthPaths.Copy,
        "resize-remapfixed" => GrowthPaths.RemapFixed,
        "resize-remap" => GrowthPaths.Remap,
        _ => throw new ArgumentException($"unknown mode {mode}"),
    };
    // 2 MiB to 4 MiB: a huge-space block at the remap threshold, so every path applies; InPlace is off, so it moves.
    using var pool = NativeArrayPool<byte>.Create(Options(path));
    NativeBuffer<byte> buffer = pool.Rent(2 * Size);
    buffer.AsSpan().Fill(1);
    Span<byte> stale = buffer.AsSpan();
    nint before = (nint)buffer.Pointer;
    pool.Resize(ref buffer, 4 * Size);
    NativePoolStatistics stats = pool.GetStatistics();
    Console.Out.WriteLine($"MOVED={((nint)buffer.Pointer != before ? 1 : 0)}");
    Console.Out.WriteLine($"PATH={(stats.GrowsCopied > 0 ? "copy" : stats.GrowsRemappedFixed > 0 ? "remapfixed" : stats.GrowsRemapped > 0 ? "remap" : "none")}");
    // A rent of the old size must not be given the vacated range.
    NativeBuffer<byte> next = pool.Rent(2 * Size);
    Report(pool.GetStatistics(), reused: (nint)next.Pointer == before);
#pragma warning disable NAP003 // the stale write is the point: guarded mode must fault on it
    stale[12345] = 42;
#pragma warning restore NAP003
    Console.Out.WriteLine("AFTER-WRITE");
    Console.Out.Flush();
    pool.Return(next);
    pool.Return(buffer);
    return 0;
}

static NativePoolOptions Options(GrowthPaths paths) => new()
{
    Backend = MemoryBackend.Linux,
    Guarded = true,
    GrowthPaths = paths,
    IdleTrimDelay = Timeout.InfiniteTimeSpan,
    TrimOnMemoryPressure = false,
};

static void Report(NativePoolStatistics stats, bool reused)
{
    Console.Out.WriteLine($"PROTECTED={stats.ProtectedBuffers}");
    Console.Out.WriteLine($"REUSED={(reused ? 1 : 0)}");
    Console.Out.WriteLine("BEFORE-WRITE");
    Console.Out.Flush();
}
