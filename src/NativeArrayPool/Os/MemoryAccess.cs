using System.Runtime.CompilerServices;

namespace NativeBuffers.Os;

/// <summary>
/// The few unsafe conversions the upper layers need to hand native memory to users as spans and pointers.
/// Keeping them here keeps pointer arithmetic out of the arenas and pools.
/// </summary>
internal static unsafe class MemoryAccess
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Span<T> AsSpan<T>(nint address, int length) where T : unmanaged => new((void*)address, length);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref T AsRef<T>(nint address) where T : unmanaged => ref Unsafe.AsRef<T>((void*)address);

    /// <summary>
    /// Element <paramref name="index"/> of the array of <typeparamref name="T"/> at <paramref name="address"/>, by a
    /// 64-bit index: for walks over buffers longer than a span can cover. No bounds check: the caller has made one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref T ElementAt<T>(nint address, long index) where T : unmanaged => ref ((T*)address)[index];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T* AsPointer<T>(nint address) where T : unmanaged => (T*)address;

    /// <summary>
    /// The address of the first element of a non-empty span. For a span over managed memory the address is not pinned
    /// and may be stale at once; it is only fit for comparing against native ranges, which the GC heap never overlaps.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nint AddressOf<T>(ReadOnlySpan<T> span) where T : unmanaged =>
        (nint)Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(span));

    /// <summary>
    /// Copies bytes between two ranges of one buffer that may overlap (memmove semantics): shifting elements inside a
    /// buffer. Not a "move": in this library a move is pages changing address (mremap).
    /// </summary>
    public static void CopyWithin(nint source, nint destination, nuint length) => Buffer.MemoryCopy((void*)source, (void*)destination, length, length);

    /// <summary>A handle on memory that never moves: no GC handle, nothing to unpin.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static System.Buffers.MemoryHandle Handle(nint address) => new((void*)address);

    public static void Clear(nint address, nuint length) => System.Runtime.InteropServices.NativeMemory.Clear((void*)address, length);
}
