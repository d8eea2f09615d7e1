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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T* AsPointer<T>(nint address) where T : unmanaged => (T*)address;

    /// <summary>Copies with memmove semantics; used where ranges may overlap (moving elements inside one buffer).</summary>
    public static void Move(nint source, nint destination, nuint length) => Buffer.MemoryCopy((void*)source, (void*)destination, length, length);

    public static void Clear(nint address, nuint length) => System.Runtime.InteropServices.NativeMemory.Clear((void*)address, length);

    /// <summary>A <see cref="System.Buffers.MemoryHandle"/> for native memory: a bare pointer, no GC handle, no unpin callback.</summary>
    public static System.Buffers.MemoryHandle Handle(nint address) => new((void*)address);
}
