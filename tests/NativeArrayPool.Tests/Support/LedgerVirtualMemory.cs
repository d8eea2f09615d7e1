using NativeBuffers.Os;

namespace NativeBuffers.Tests.Support;

/// <summary>
/// Passes every call to a real layer and keeps a ledger of the bytes this pool has mapped, from what each
/// successful call does to the address space. After Dispose the ledger must be 0: an exact leak check that,
/// unlike /proc/self/maps, other tests running in the same process cannot disturb.
/// </summary>
internal sealed class LedgerVirtualMemory : VirtualMemory
{
    private readonly VirtualMemory _inner;
    private long _mapped;

    public LedgerVirtualMemory(VirtualMemory inner) => _inner = inner;

    public long MappedBytes => Interlocked.Read(ref _mapped);

    public override string Name => _inner.Name;
    public override nuint PageSize => _inner.PageSize;
    public override bool CanMovePages => _inner.CanMovePages;
    public override bool DiscardedPagesReadZero => _inner.DiscardedPagesReadZero;

    private OsError Count(OsError error, long delta)
    {
        if (error.IsSuccess)
            Interlocked.Add(ref _mapped, delta);
        return error;
    }

    public override OsError Reserve(nuint length, nuint alignment, bool hugePages, out nint address) =>
        Count(_inner.Reserve(length, alignment, hugePages, out address), (long)length);

    public override OsError Release(nint address, nuint length) => Count(_inner.Release(address, length), -(long)length);

    public override OsError Refresh(nint address, nuint length, bool hugePages) => _inner.Refresh(address, length, hugePages);

    public override OsError Restore(nint address, nuint length, bool hugePages) => Count(_inner.Restore(address, length, hugePages), (long)length);

    // The destination was mapped before and is mapped after; the source range is gone.
    public override OsError MoveInto(nint source, nuint sourceLength, nint destination, nuint destinationLength, bool hugePages) =>
        Count(_inner.MoveInto(source, sourceLength, destination, destinationLength, hugePages), -(long)sourceLength);

    public override OsError Move(nint source, nuint sourceLength, nuint newLength, out nint newAddress) =>
        Count(_inner.Move(source, sourceLength, newLength, out newAddress), (long)newLength - (long)sourceLength);

    public override OsError Discard(nint address, nuint length) => _inner.Discard(address, length);
    public override OsError Protect(nint address, nuint length, bool accessible) => _inner.Protect(address, length, accessible);
    public override void Copy(nint source, nint destination, nuint length) => _inner.Copy(source, destination, length);
    public override void Clear(nint address, nuint length) => _inner.Clear(address, length);
    public override void Stamp(nint address) => _inner.Stamp(address);
}
