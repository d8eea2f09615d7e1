using NativeBuffers.Os;

namespace NativeBuffers.Tests.Support;

/// <summary>
/// A virtual-memory layer that hands out addresses and never maps anything: for tests of the bookkeeping
/// (schedules, buddy allocators) that must not touch memory. Any attempt to use memory fails loudly.
/// </summary>
internal sealed class AddressOnlyVirtualMemory : VirtualMemory
{
    private long _next = 1L << 40;

    public List<long> Reservations { get; } = new();

    public override string Name => "address-only";
    public override nuint PageSize => 4096;
    public override bool CanMovePages => false;
    public override bool DiscardedPagesReadZero => true;

    public override OsError Reserve(nuint length, nuint alignment, bool hugePages, out nint address)
    {
        long aligned = (_next + (long)alignment - 1) & ~((long)alignment - 1);
        _next = aligned + (long)length;
        address = (nint)aligned;
        Reservations.Add((long)length);
        return OsError.Success;
    }

    public override OsError Release(nint address, nuint length) => OsError.Success;
    public override OsError ReplaceWithFreshPages(nint address, nuint length, bool hugePages) => OsError.Success;
    public override OsError FillHole(nint address, nuint length, bool hugePages) => OsError.Success;
    public override OsError MoveInto(nint source, nuint sourceLength, nint destination, nuint destinationLength, bool hugePages) => OsError.NotSupported;
    public override OsError Move(nint source, nuint sourceLength, nuint newLength, out nint newAddress) { newAddress = 0; return OsError.NotSupported; }
    public override OsError Discard(nint address, nuint length) => OsError.Success;
    public override OsError Protect(nint address, nuint length, bool accessible) => OsError.NotSupported;
    public override void Copy(nint source, nint destination, nuint length) => throw new InvalidOperationException("address-only layer has no memory");
    public override void Clear(nint address, nuint length) => throw new InvalidOperationException("address-only layer has no memory");
    public override void Stamp(nint address) { } // nothing is mapped: there is nothing to merge
}
