using NativeBuffers.Pooling;

namespace NativeBuffers.Collections;

/// <summary>
/// The growth and release that <see cref="NativeList{T}"/>, <see cref="NativeBufferWriter{T}"/> and
/// <see cref="NativeMemoryStream"/> share: each owns one lease from one pool, grows it geometrically through
/// <see cref="NativeArrayPool{T}.Resize"/>, and ends it once on disposal.
/// </summary>
/// <remarks>Each collection keeps its own limits, counters and error messages around these calls.</remarks>
internal static class CollectionBuffer
{
    /// <summary>
    /// Resizes <paramref name="lease"/> to hold at least <paramref name="needed"/> elements: at least double its length
    /// (up to <see cref="NativeArrayPool{T}.MaxLength"/>) and at least <paramref name="minimumCapacity"/>, so n
    /// elements appended cost O(n) growth in total. The lease is unchanged if the pool throws.
    /// </summary>
    public static void Grow<T>(NativeArrayPool<T> pool, ref NativeBuffer<T> lease, long needed, IMemoryOrigin holder, long minimumCapacity = 0)
        where T : unmanaged
    {
        long max = NativeArrayPool<T>.MaxLength;
        long doubled = lease.Length <= max / 2 ? lease.Length * 2 : max;
        Resize(pool, ref lease, Math.Max(needed, Math.Max(doubled, minimumCapacity)), holder);
    }

    /// <summary>
    /// Resizes <paramref name="lease"/> to <paramref name="length"/> elements. A lease its pool's disposal ended throws
    /// in the words of its <paramref name="holder"/> (the pool would speak of itself), unless the disposal races this call.
    /// </summary>
    public static void Resize<T>(NativeArrayPool<T> pool, ref NativeBuffer<T> lease, long length, IMemoryOrigin holder)
        where T : unmanaged
    {
        if (!lease.IsValid)
            ThrowHelper.ThrowHolderEnded(holder.Name, holder.DescribeEnd(holder.Epoch));
        pool.Resize(ref lease, length);
    }

    /// <summary>Ends <paramref name="lease"/> and leaves <c>default</c> in its place.</summary>
    public static void Release<T>(ref NativeBuffer<T> lease) where T : unmanaged
    {
        NativeBuffer<T> ended = lease;
        lease = default;
        // Dispose, not Return: a lease that its pool's disposal ended still holds its memory until now.
        ended.Dispose();
    }
}
