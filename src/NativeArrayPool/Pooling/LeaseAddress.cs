namespace NativeBuffers.Pooling;

/// <summary>
/// The address behind a lease, for the few callers inside the library that move or clear memory in bulk
/// (beyond what one span can cover). Checks the lease first, like every accessor of <see cref="NativeBuffer{T}"/>.
/// </summary>
internal static class LeaseAddress
{
    /// <summary>The address of element 0 (0 for an empty lease).</summary>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized.</exception>
    public static nint Of<T>(in NativeBuffer<T> lease) where T : unmanaged
    {
        if (lease._allocation is null)
            ThrowHelper.ThrowStaleLease(typeof(T).Name, poolDisposed: false);
        return lease.CheckedAddress();
    }
}
