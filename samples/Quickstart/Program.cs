// Quickstart: what NativeArrayPool does, in one run.
//   1. Rent and return a few buffers, as with ArrayPool<byte>.Shared.
//   2. Grow one buffer from 1 MiB to 4 GiB, writing every new half, and show how each doubling was served
//      (in place, pages moved with mremap, or copied), what it cost, and how many kernel mappings the pool owns.
//   3. Do the same growth the managed way (ArrayPool<byte>.Shared: rent bigger, copy, return) as far as
//      managed arrays go (1 GiB), for comparison.
//   4. Verify every byte of the 4 GiB buffer.
using System.Buffers;
using System.Diagnostics;
using NativeBuffers;

const long Start = 1L << 20;
long target = args.Length > 0 && long.TryParse(args[0], out long gib) ? gib << 30 : 4L << 30;

Console.WriteLine("NativeArrayPool quickstart");
Console.WriteLine($".NET {Environment.Version}, {Environment.OSVersion}, {Environment.ProcessorCount} cores");
Console.WriteLine();

// ---- 1. rent and return ----
var pool = NativeArrayPool<byte>.Shared;
Console.WriteLine("1. Rent and return (Length is the size class, at least what was asked):");
foreach (long size in new long[] { 100, 5_000, 100_000, 3_000_000 })
{
    NativeBuffer<byte> buffer = pool.Rent(size);
    buffer.AsSpan().Fill(0xAB);
    Console.WriteLine($"   Rent({size,9:N0}) -> Length {buffer.Length,10:N0}");
    pool.Return(buffer);
}
Console.WriteLine("   Rent(64), Return it, then Return the same lease again:");
NativeBuffer<byte> returned = pool.Rent(64);
pool.Return(returned);
#pragma warning disable NAP004 // the double return is deliberate: the sample shows the pool catching it at run time
try { pool.Return(returned); }
#pragma warning restore NAP004
catch (InvalidOperationException e) { Console.WriteLine($"   the second Return is caught: {e.Message}"); }
Console.WriteLine();

// ---- 2. grow natively ----
Console.WriteLine($"2. Grow one native buffer from {Format(Start)} to {Format(target)}, writing each new half:");
Console.WriteLine($"   {"step",-21} {"path",-12} {"grow ms",9} {"write ms",9} {"copied",9} {"mappings",9}");
NativeBuffer<byte> grown = pool.Rent(Start);
Fill(grown, 0, grown.Length);
var stopwatch = new Stopwatch();
NativePoolStatistics before = pool.GetStatistics();
while (grown.Length < target)
{
    long oldLength = grown.Length;
    stopwatch.Restart();
    pool.Resize(ref grown, oldLength * 2);
    double growMs = stopwatch.Elapsed.TotalMilliseconds;
    stopwatch.Restart();
    Fill(grown, oldLength, grown.Length);
    double writeMs = stopwatch.Elapsed.TotalMilliseconds;
    NativePoolStatistics after = pool.GetStatistics();
    Console.WriteLine($"   {Format(oldLength) + " -> " + Format(grown.Length),-21} {PathTaken(before, after),-12} {growMs,9:F3} {writeMs,9:F1} {Format(after.BytesCopied - before.BytesCopied),9} {after.KernelMappings,9}");
    before = after;
}
NativePoolStatistics stats = pool.GetStatistics();
Console.WriteLine($"   Pool: {stats.GrowsInPlace} in place, {stats.GrowsRemappedFixed} remapped into its own space, {stats.GrowsRemapped} remapped, " +
                  $"{stats.GrowsCopied} copied ({Format(stats.BytesCopied)}); {stats.KernelMappings} kernel mappings (budget {stats.MappingBudget}); backend {stats.Backend}.");
Console.WriteLine();

// ---- 3. grow the managed way ----
Console.WriteLine("3. The same growth with ArrayPool<byte>.Shared (rent bigger + copy), as far as arrays go:");
Console.WriteLine($"   {"step",-21} {"grow ms",9} {"write ms",9} {"copied",9}");
int gen2Before = GC.CollectionCount(2);
byte[] array = ArrayPool<byte>.Shared.Rent((int)Start);
FillArray(array, 0, array.Length);
long managedCopied = 0;
while ((long)array.Length * 2 <= 1L << 30)
{
    int oldLength = array.Length;
    stopwatch.Restart();
    byte[] bigger = ArrayPool<byte>.Shared.Rent(oldLength * 2);
    Buffer.BlockCopy(array, 0, bigger, 0, oldLength);
    ArrayPool<byte>.Shared.Return(array);
    array = bigger;
    double growMs = stopwatch.Elapsed.TotalMilliseconds;
    managedCopied += oldLength;
    stopwatch.Restart();
    FillArray(array, oldLength, array.Length);
    double writeMs = stopwatch.Elapsed.TotalMilliseconds;
    Console.WriteLine($"   {Format(oldLength) + " -> " + Format(array.Length),-21} {growMs,9:F3} {writeMs,9:F1} {Format(oldLength),9}");
}
Console.WriteLine($"   Managed: copied {Format(managedCopied)} in total; {GC.CollectionCount(2) - gen2Before} gen-2 collections; stops at {Format(array.Length)} (arrays end below 2 GiB).");
ArrayPool<byte>.Shared.Return(array);
Console.WriteLine();

// ---- 4. verify ----
stopwatch.Restart();
long bad = FirstMismatch(grown);
Console.WriteLine(bad < 0
    ? $"4. Verified all {Format(grown.Length)} of the native buffer in {stopwatch.Elapsed.TotalMilliseconds:F0} ms: every byte is what was written."
    : $"4. MISMATCH at offset {bad:N0}: contents were not preserved.");
pool.Return(grown);
return bad < 0 ? 0 : 1;

// Each MiB holds its own index, so a lost, shifted or swapped page is seen.
static byte Expected(long offset) => (byte)(offset >> 20);

static void Fill(NativeBuffer<byte> buffer, long from, long to)
{
    for (long mib = from; mib < to; mib += 1 << 20)
        buffer.AsSpan(mib, (int)Math.Min(1 << 20, to - mib)).Fill(Expected(mib));
}

static void FillArray(byte[] array, long from, long to)
{
    for (long mib = from; mib < to; mib += 1 << 20)
        array.AsSpan((int)mib, (int)Math.Min(1 << 20, to - mib)).Fill(Expected(mib));
}

static long FirstMismatch(NativeBuffer<byte> buffer)
{
    for (long mib = 0; mib < buffer.Length; mib += 1 << 20)
    {
        int at = buffer.AsSpan(mib, (int)Math.Min(1 << 20, buffer.Length - mib)).IndexOfAnyExcept(Expected(mib));
        if (at >= 0)
            return mib + at;
    }
    return -1;
}

static string PathTaken(NativePoolStatistics before, NativePoolStatistics after) =>
    after.GrowsInPlace > before.GrowsInPlace ? "in place"
    : after.GrowsRemappedFixed > before.GrowsRemappedFixed ? "remap-fixed"
    : after.GrowsRemapped > before.GrowsRemapped ? "remap"
    : after.GrowsCopied > before.GrowsCopied ? "copy"
    : "none";

static string Format(long bytes) =>
    bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):0.##} GiB"
    : bytes >= 1L << 20 ? $"{bytes / (double)(1L << 20):0.##} MiB"
    : bytes >= 1L << 10 ? $"{bytes / 1024.0:0.##} KiB"
    : $"{bytes} B";
