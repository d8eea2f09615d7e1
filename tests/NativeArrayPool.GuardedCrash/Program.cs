// Child process of LeaseGuardTests: proves that guarded mode turns a stale write into a fault at the write.
//   args[0] = "span"     write through a Span<byte> taken before Return
//   args[0] = "pointer"  write through a byte* taken before Return
//   args[0] = "control"  the same steps, but the write goes to a buffer that is still rented (must not crash)
// Markers on stdout let the parent see how far it got: BEFORE-WRITE is flushed right before the write,
// AFTER-WRITE only if the write did not fault.
using NativeBuffers;

string mode = args.Length > 0 ? args[0] : "span";
using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = MemoryBackend.Linux, Guarded = true });

NativeBuffer<byte> buffer = pool.Rent(1 << 20);
buffer.AsSpan().Fill(1);
unsafe
{
    byte* pointer = buffer.Pointer;
    Span<byte> span = buffer.AsSpan();
    if (mode != "control")
        pool.Return(buffer);
    Console.Out.WriteLine($"PROTECTED={pool.GetStatistics().ProtectedBuffers}");
    Console.Out.WriteLine("BEFORE-WRITE");
    Console.Out.Flush();
    if (mode == "pointer")
        pointer[12345] = 42;
    else
        span[12345] = 42;
}
Console.Out.WriteLine("AFTER-WRITE");
Console.Out.Flush();
if (mode == "control")
    pool.Return(buffer);
return 0;
