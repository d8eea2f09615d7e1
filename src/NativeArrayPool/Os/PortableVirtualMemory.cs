using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace NativeBuffers.Os;

/// <summary>
/// Primitives on <see cref="NativeMemory"/> for platforms without mremap (and, by option, on Linux so the
/// whole suite runs against both). Reservations are aligned allocations; nothing can move, so growth beyond a
/// block always copies. ReplaceWithFreshPages and FillHole zero the range, which keeps the "fresh pages read zero" contract.
/// </summary>
internal sealed unsafe class PortableVirtualMemory : VirtualMemory
{
    public static readonly PortableVirtualMemory Instance = new();

    // Reservations by base address: Release may be asked for any part of one, and only whole ones can be freed.
    private readonly ConcurrentDictionary<nint, nuint> _reservations = new();

    private PortableVirtualMemory() { }

    public override string Name => "portable";
    public override nuint PageSize => 4096;
    public override bool CanMovePages => false;
    public override bool DiscardedPagesReadZero => false;

    public override OsError Reserve(nuint length, nuint alignment, bool hugePages, out nint address)
    {
        try
        {
            address = (nint)NativeMemory.AlignedAlloc(length, alignment);
        }
        catch (OutOfMemoryException)
        {
            address = 0;
            return OsError.OutOfMemory;
        }
        if (address == 0)
            return OsError.OutOfMemory;
        _reservations[address] = length;
        return OsError.Success;
    }

    public override OsError Release(nint address, nuint length)
    {
        // Only whole reservations are real allocations; releasing part of one frees nothing until the whole goes.
        if (_reservations.TryRemove(address, out nuint reserved) && reserved == length)
        {
            NativeMemory.AlignedFree((void*)address);
            return OsError.Success;
        }
        if (reserved != 0)
            _reservations[address] = reserved;
        return OsError.Success;
    }

    public override OsError ReplaceWithFreshPages(nint address, nuint length, bool hugePages)
    {
        NativeMemory.Clear((void*)address, length);
        return OsError.Success;
    }

    public override OsError FillHole(nint address, nuint length, bool hugePages) => ReplaceWithFreshPages(address, length, hugePages);

    public override OsError MoveInto(nint source, nuint sourceLength, nint destination, nuint destinationLength, bool hugePages) => OsError.NotSupported;

    public override OsError Move(nint source, nuint sourceLength, nuint newLength, out nint newAddress)
    {
        newAddress = 0;
        return OsError.NotSupported;
    }

    public override OsError Discard(nint address, nuint length) => OsError.Success;

    public override OsError Protect(nint address, nuint length, bool accessible) => OsError.NotSupported;

    public override void Copy(nint source, nint destination, nuint length) =>
        Buffer.MemoryCopy((void*)source, (void*)destination, length, length);

    public override void Clear(nint address, nuint length) => NativeMemory.Clear((void*)address, length);

    public override void Stamp(nint address) { } // no kernel mappings to merge
}
