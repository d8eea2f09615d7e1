using NativeBuffers.Os;

namespace NativeBuffers.Tests.Support;

/// <summary>
/// Passes every call to a real layer, keeps a ledger of the bytes mapped through it, and offers hooks that see
/// addresses. The ledger follows what each successful call does to the address space; after Dispose it must be
/// 0: an exact leak check that, unlike /proc/self/maps, other tests running in the same process cannot disturb.
/// The hooks play "another thread" (mapping something into a range the arena just vacated, before the arena maps
/// it back), fail the unmapping of one particular range, or place a reservation where the test wants it.
/// </summary>
internal sealed class InterceptingVirtualMemory : VirtualMemory
{
    private readonly VirtualMemory _inner;
    private long _mapped;

    public InterceptingVirtualMemory(VirtualMemory inner) => _inner = inner;

    /// <summary>Bytes mapped through this layer and not yet unmapped (a reservation a hook placed counts as mapped).</summary>
    public long MappedBytes => Interlocked.Read(ref _mapped);

    /// <summary>Called before each <see cref="VirtualMemory.FillHole"/> with its range.</summary>
    public Action<nint, nuint>? BeforeFillHole { get; set; }

    /// <summary>Called before each <see cref="VirtualMemory.MoveInto"/> with its source, source length, destination and destination length.</summary>
    public Action<nint, nuint, nint, nuint>? BeforeMoveInto { get; set; }

    /// <summary>Decides a Release call instead of the real layer when it returns an error (null: let it through).</summary>
    public Func<nint, nuint, OsError?>? ReleaseOverride { get; set; }

    /// <summary>Places a reservation itself (returns its address) instead of the real layer (null: let it through).</summary>
    public Func<nuint, nuint, nint?>? ReserveOverride { get; set; }

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

    public override OsError Reserve(nuint length, nuint alignment, bool hugePages, out nint address)
    {
        if (ReserveOverride?.Invoke(length, alignment) is { } placed)
        {
            address = placed;
            return Count(OsError.Success, (long)length);
        }
        return Count(_inner.Reserve(length, alignment, hugePages, out address), (long)length);
    }

    public override OsError Release(nint address, nuint length) =>
        Count(ReleaseOverride?.Invoke(address, length) is { } injected ? injected : _inner.Release(address, length), -(long)length);

    public override OsError ReplaceWithFreshPages(nint address, nuint length, bool hugePages) => _inner.ReplaceWithFreshPages(address, length, hugePages);

    public override OsError FillHole(nint address, nuint length, bool hugePages)
    {
        BeforeFillHole?.Invoke(address, length);
        return Count(_inner.FillHole(address, length, hugePages), (long)length);
    }

    // The destination was mapped before and is mapped after; the source range is gone.
    public override OsError MoveInto(nint source, nuint sourceLength, nint destination, nuint destinationLength, bool hugePages)
    {
        BeforeMoveInto?.Invoke(source, sourceLength, destination, destinationLength);
        return Count(_inner.MoveInto(source, sourceLength, destination, destinationLength, hugePages), -(long)sourceLength);
    }

    public override OsError Move(nint source, nuint sourceLength, nuint newLength, out nint newAddress) =>
        Count(_inner.Move(source, sourceLength, newLength, out newAddress), (long)newLength - (long)sourceLength);

    public override OsError Discard(nint address, nuint length) => _inner.Discard(address, length);
    public override OsError Protect(nint address, nuint length, bool accessible) => _inner.Protect(address, length, accessible);
    public override void Copy(nint source, nint destination, nuint length) => _inner.Copy(source, destination, length);
    public override void Clear(nint address, nuint length) => _inner.Clear(address, length);
    public override void Stamp(nint address) => _inner.Stamp(address);
}
