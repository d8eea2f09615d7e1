using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeBuffers.Pooling;

namespace NativeBuffers.Collections;

/// <summary>An order on <typeparamref name="T"/>: a comparison, and a span sort that uses the same order.</summary>
/// <remarks>A struct per kind of comparer, so the sort's loops are compiled once per kind with the call inlined.</remarks>
internal interface IElementOrder<T>
{
    int Compare(T x, T y);

    void Sort(Span<T> span);
}

/// <summary><see cref="Comparer{T}.Default"/>; the span sort takes its fast paths for primitive types.</summary>
internal readonly struct DefaultOrder<T> : IElementOrder<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Compare(T x, T y) => Comparer<T>.Default.Compare(x, y);

    public void Sort(Span<T> span) => span.Sort();
}

internal readonly struct ComparerOrder<T>(IComparer<T> comparer) : IElementOrder<T>
{
    public int Compare(T x, T y) => comparer.Compare(x, y);

    public void Sort(Span<T> span) => span.Sort(comparer);
}

internal readonly struct ComparisonOrder<T>(Comparison<T> comparison) : IElementOrder<T>
{
    public int Compare(T x, T y) => comparison(x, y);

    public void Sort(Span<T> span) => span.Sort(comparison);
}

/// <summary>
/// Sorting and binary search over native memory by 64-bit index, for lists longer than a span can cover.
/// </summary>
/// <remarks>
/// <para>A sort partitions by long index until every piece fits a span of at most <c>spanLimit</c> elements, then
/// hands each piece to the span sort (<see cref="MemoryExtensions.Sort{T}(Span{T})"/>), which is faster than any
/// loop here and is what <see cref="List{T}.Sort()"/> runs. A list of up to int.MaxValue elements therefore goes
/// straight to the span sort. The partition is three-way (less, equal, greater than the pivot), so runs of equal
/// elements drop out after one pass, and it only ever compares and swaps inside its range: a comparer that
/// contradicts itself can leave the order wrong, but cannot make it read or write outside the list. Past
/// 2·log2(n) partition levels (pivots that keep splitting badly) the range is heap-sorted, so the worst case is
/// O(n log n), as with the span sort's introsort. No extra memory: everything is swapped in place.</para>
/// <para>Like the span sort, the order is not stable, and an exception from the comparer is wrapped in an
/// <see cref="InvalidOperationException"/>.</para>
/// </remarks>
internal static class LongSort
{
    /// <summary>
    /// Sorts elements [<paramref name="start"/>, <paramref name="start"/>+<paramref name="count"/>) of
    /// <paramref name="buffer"/>, which the caller has checked lie inside it. <paramref name="spanLimit"/> is the longest piece handed to the span sort:
    /// int.MaxValue except in tests, which lower it to run the long-index paths over small lists.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized.</exception>
    public static void Sort<T, TOrder>(in NativeBuffer<T> buffer, long start, long count, TOrder order, long spanLimit, IMemoryOrigin? holder = null)
        where T : unmanaged where TOrder : IElementOrder<T>
    {
        int depthLimit = 2 * (64 - (int)ulong.LeadingZeroCount((ulong)count));
        Sort<T, TOrder>(buffer, start, count, order, spanLimit, depthLimit, holder);
    }

    /// <summary>The sort with the number of partition levels before heap sort as a parameter, so tests can force the heap sort.</summary>
    internal static void Sort<T, TOrder>(in NativeBuffer<T> buffer, long start, long count, TOrder order, long spanLimit, int depthLimit, IMemoryOrigin? holder = null)
        where T : unmanaged where TOrder : IElementOrder<T>
    {
        // One lease check for the whole sort; the loops below index from element 0 (a null reference for an empty
        // lease, never read: a range of fewer than two elements is already sorted).
        ref T first = ref buffer.ElementAt(0, holder);
        if (count >= 2)
            SortRange<T, TOrder>(ref first, start, start + count, order, spanLimit, depthLimit);
    }

    /// <summary>
    /// The index of <paramref name="value"/> in the sorted range, or the bitwise complement of the index of the first
    /// element larger than it: the same search, so among equal elements the same index, as <see cref="List{T}.BinarySearch(T)"/>.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized.</exception>
    public static long BinarySearch<T, TOrder>(in NativeBuffer<T> buffer, long start, long count, T value, TOrder order, IMemoryOrigin? holder = null)
        where T : unmanaged where TOrder : IElementOrder<T>
    {
        ref T first = ref buffer.ElementAt(0, holder);
        long lo = start;
        long hi = start + count - 1;
        try
        {
            while (lo <= hi)
            {
                long middle = lo + ((hi - lo) >> 1);
                int c = order.Compare(At(ref first, middle), value);
                if (c == 0)
                    return middle;
                if (c < 0)
                    lo = middle + 1;
                else
                    hi = middle - 1;
            }
        }
        catch (Exception e)
        {
            ThrowHelper.ThrowComparerFailed(e);
        }
        return ~lo;
    }

    // [lo, hi): loops on the larger side and recurses into the smaller, so the stack stays O(log n) deep.
    private static void SortRange<T, TOrder>(ref T first, long lo, long hi, TOrder order, long spanLimit, int depthLimit)
        where T : unmanaged where TOrder : IElementOrder<T>
    {
        while (hi - lo > spanLimit)
        {
            if (depthLimit-- == 0)
            {
                HeapSort<T, TOrder>(ref first, lo, hi, order);
                return;
            }
            (long less, long greater) = Partition<T, TOrder>(ref first, lo, hi, order);
            if (less - lo < hi - greater)
            {
                SortRange<T, TOrder>(ref first, lo, less, order, spanLimit, depthLimit);
                lo = greater;
            }
            else
            {
                SortRange<T, TOrder>(ref first, greater, hi, order, spanLimit, depthLimit);
                hi = less;
            }
        }
        if (hi - lo > 1)
            order.Sort(MemoryMarshal.CreateSpan(ref At(ref first, lo), (int)(hi - lo)));
    }

    /// <summary>
    /// Dijkstra's three-way partition of [lo, hi) around the median of its first, middle and last elements: returns
    /// (less, greater) with [lo, less) below the pivot, [less, greater) equal to it, [greater, hi) above it.
    /// </summary>
    private static (long Less, long Greater) Partition<T, TOrder>(ref T first, long lo, long hi, TOrder order)
        where T : unmanaged where TOrder : IElementOrder<T>
    {
        try
        {
            T pivot = MedianOfThree(
                At(ref first, lo),
                At(ref first, lo + ((hi - lo) >> 1)),
                At(ref first, hi - 1),
                order);
            long less = lo, i = lo, greater = hi;
            while (i < greater)
            {
                ref T element = ref At(ref first, i);
                int c = order.Compare(element, pivot);
                if (c < 0)
                {
                    Swap(ref At(ref first, less), ref element);
                    less++;
                    i++;
                }
                else if (c > 0)
                {
                    greater--;
                    Swap(ref element, ref At(ref first, greater));
                }
                else
                {
                    i++;
                }
            }
            return (less, greater);
        }
        catch (Exception e)
        {
            ThrowHelper.ThrowComparerFailed(e);
            return default;
        }
    }

    private static T MedianOfThree<T, TOrder>(T a, T b, T c, TOrder order) where TOrder : IElementOrder<T>
    {
        if (order.Compare(a, b) > 0)
            (a, b) = (b, a);
        if (order.Compare(b, c) > 0)
            b = order.Compare(a, c) > 0 ? a : c;
        return b;
    }

    /// <summary>Heap sort of [lo, hi): the fallback that bounds the worst case, as in introsort.</summary>
    private static void HeapSort<T, TOrder>(ref T first, long lo, long hi, TOrder order)
        where T : unmanaged where TOrder : IElementOrder<T>
    {
        try
        {
            long n = hi - lo;
            for (long i = n / 2 - 1; i >= 0; i--)
                SiftDown<T, TOrder>(ref first, lo, i, n, order);
            for (long end = n - 1; end > 0; end--)
            {
                Swap(ref At(ref first, lo), ref At(ref first, lo + end));
                SiftDown<T, TOrder>(ref first, lo, 0, end, order);
            }
        }
        catch (Exception e)
        {
            ThrowHelper.ThrowComparerFailed(e);
        }
    }

    // The heap is [lo, lo+n), node i's children at 2i+1 and 2i+2 relative to lo.
    private static void SiftDown<T, TOrder>(ref T first, long lo, long i, long n, TOrder order)
        where T : unmanaged where TOrder : IElementOrder<T>
    {
        T value = At(ref first, lo + i);
        try
        {
            while (true)
            {
                long child = 2 * i + 1;
                if (child >= n)
                    break;
                if (child + 1 < n && order.Compare(At(ref first, lo + child), At(ref first, lo + child + 1)) < 0)
                    child++;
                if (order.Compare(value, At(ref first, lo + child)) >= 0)
                    break;
                At(ref first, lo + i) = At(ref first, lo + child);
                i = child;
            }
        }
        finally
        {
            // Also when the comparer throws: the value fills the hole, so the range keeps every element it had.
            At(ref first, lo + i) = value;
        }
    }

    /// <summary>Element <paramref name="index"/> counted from <paramref name="first"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref T At<T>(ref T first, long index) => ref Unsafe.Add(ref first, (nint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Swap<T>(ref T a, ref T b) => (a, b) = (b, a);
}
