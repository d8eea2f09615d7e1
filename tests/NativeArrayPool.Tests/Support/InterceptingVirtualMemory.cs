using NativeBuffers.Os;

namespace NativeBuffers.Tests.Support;

/// <summary>
/// A pass-through layer with hooks that see addresses: before each <see cref="VirtualMemory.Restore"/> call, so a
/// test can play "another thread" and map something into a range the arena just vacated before the arena maps
/// it back; and on <see cref="VirtualMemory.Release"/>, to fail the unmapping of one particular range.
/// </summary>
internal sealed class InterceptingVirtualMemory : VirtualMemory
{
    private readonly VirtualMemory _inner;

    public InterceptingVirtualMemory(VirtualMemory inner) => _inner = inner;

    public Action<nint, nuint>? BeforeRestore { get; set; }

    /// <summary>Decides a Release call instead of the real layer when it returns an error (null: let it through).</summary>
    public Func<nint, nuint, OsError?>? ReleaseOverride { get; set; }

    public override string Name => _inner.Name + "+intercept";
    public override nuint PageSize => _inner.PageSize;
    public override bool CanMovePages => _inner.CanMovePages;
    public override bool DiscardedPagesReadZero => _inner.DiscardedPagesReadZero;

    /// <summary>Places a reservation itself (returns its address) instead of the real layer (null: let it through).</summary>
    public Func<nuint, nuint, nint?>? ReserveOverride { get; set; }

    public override OsError Reserve(nuint length, nuint alignment, bool hugePages, out nint address)
    {
        if (ReserveOverride?.Invoke(length, alignment) is { } placed)
        {
            address = placed;
            return OsError.Success;
        }
        return _inner.Reserve(length, alignment, hugePages, out address);
    }
    public override OsError Release(nint address, nuint length) =>
        ReleaseOverride?.Invoke(address, length) is { } injected ? injected : _inner.Release(address, length);
    public override OsError Refresh(nint address, nuint length, bool hugePages) => _inner.Refresh(address, length, hugePages);

    public override OsError Restore(nint address, nuint length, bool hugePages)
    {
        BeforeRestore?.Invoke(address, length);
        return _inner.Restore(address, length, hugePages);
    }

    public override OsError MoveInto(nint source, nuint sourceLength, nint destination, nuint destinationLength, bool hugePages) =>
        _inner.MoveInto(source, sourceLength, destination, destinationLength, hugePages);

    public override OsError Move(nint source, nuint sourceLength, nuint newLength, out nint newAddress) => _inner.Move(source, sourceLength, newLength, out newAddress);
    public override OsError Discard(nint address, nuint length) => _inner.Discard(address, length);
    public override OsError Protect(nint address, nuint length, bool accessible) => _inner.Protect(address, length, accessible);
    public override void Copy(nint source, nint destination, nuint length) => _inner.Copy(source, destination, length);
    public override void Clear(nint address, nuint length) => _inner.Clear(address, length);
    public override void Stamp(nint address) => _inner.Stamp(address);
}
