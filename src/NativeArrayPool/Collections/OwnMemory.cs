using NativeBuffers.Pooling;

namespace NativeBuffers.Collections;

/// <summary>
/// Recognises a source span that points into a collection's own buffer, as <c>list.AddRange(list.AsSpan())</c> or
/// <c>stream.CopyTo(stream)</c> hand one over. Growth gives the buffer such a span points into back to the pool (a freed
/// block, or pages moved away), so a collection that must grow before it copies notes the source's offset first and reads it
/// again from the grown buffer, where growth kept every byte at the same offset. Managed collections get this for
/// free: their old array stays alive while the caller's span refers to it.
/// </summary>
/// <remarks>
/// Only the growth paths call this: a call that does not grow pays nothing, one that grows a subtraction and a
/// comparison, and nothing allocates. A source that starts inside the buffer is taken to lie inside it, which every
/// span the collections hand out does.
/// </remarks>
internal static class OwnMemory
{
    /// <summary>Where <paramref name="source"/> starts in <paramref name="lease"/>, in bytes; -1 when it does not start inside it.</summary>
    public static long ByteOffset<T>(in NativeBuffer<T> lease, ReadOnlySpan<T> source, IMemoryOrigin holder) where T : unmanaged =>
        lease.ByteOffsetOf(source, holder);

    /// <summary>The <paramref name="length"/> elements at <paramref name="byteOffset"/> bytes into <paramref name="lease"/>.</summary>
    public static ReadOnlySpan<T> At<T>(in NativeBuffer<T> lease, long byteOffset, int length, IMemoryOrigin holder) where T : unmanaged =>
        lease.AtByteOffset(byteOffset, length, holder);
}
