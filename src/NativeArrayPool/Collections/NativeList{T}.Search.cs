using System.Runtime.CompilerServices;
using NativeBuffers.Collections;

namespace NativeBuffers;

// Searching, sorting and copying out: List<T>'s members of the same names with long indexes. Each behaves as its
// List<T> namesake (same results, same exceptions for the same arguments), and works past int.MaxValue elements.
public sealed partial class NativeList<T>
{
    // Linear searches walk the list a span at a time; a power of two, so chunks stay aligned.
    private const int SearchChunk = 1 << 30;

    /// <summary>The index of the first element equal to <paramref name="item"/> (by <see cref="EqualityComparer{T}.Default"/>), or -1.</summary>
    /// <remarks>Integer, char and enum elements are compared as bits, vectorized; others one by one with their Equals,
    /// so for <see cref="double"/> 0.0 finds -0.0 and NaN finds NaN, as in <see cref="List{T}.IndexOf(T)"/>.</remarks>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public long IndexOf(T item)
    {
        ThrowIfDisposed();
        return Find(item, 0, _count);
    }

    /// <summary>The index of the first element equal to <paramref name="item"/> from <paramref name="index"/> to the end, or -1.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside [0, <see cref="Count"/>].</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public long IndexOf(T item, long index)
    {
        ThrowIfDisposed();
        if ((ulong)index > (ulong)_count)
            ThrowSearchStartOutOfRange(index);
        return Find(item, index, _count - index);
    }

    /// <summary>The index of the first element equal to <paramref name="item"/> in [<paramref name="index"/>, <paramref name="index"/>+<paramref name="count"/>), or -1.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside [0, <see cref="Count"/>], or the range runs past the end.</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public long IndexOf(T item, long index, long count)
    {
        ThrowIfDisposed();
        if ((ulong)index > (ulong)_count)
            ThrowSearchStartOutOfRange(index);
        if (count < 0 || index > _count - count)
            ThrowHelper.ThrowWindowOutside(nameof(count), index, count, _count, "list");
        return Find(item, index, count);
    }

    /// <summary>The index of the last element equal to <paramref name="item"/>, or -1.</summary>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public long LastIndexOf(T item)
    {
        ThrowIfDisposed();
        return FindLast(item, _count - 1, _count);
    }

    /// <summary>The index of the last element equal to <paramref name="item"/> in [0, <paramref name="index"/>], searching backwards, or -1.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not below <see cref="Count"/>, or is negative in a non-empty list.</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public long LastIndexOf(T item, long index)
    {
        ThrowIfDisposed();
        if (index >= _count)
            ThrowHelper.ThrowIndexOutOfRange(nameof(index), index, _count);
        return LastIndexOf(item, index, index + 1);
    }

    /// <summary>
    /// The index of the last element equal to <paramref name="item"/> among the <paramref name="count"/> elements that
    /// end at <paramref name="index"/> (searching backwards from it), or -1. As in <see cref="List{T}.LastIndexOf(T, int, int)"/>,
    /// an empty list returns -1 for any arguments.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside [0, <see cref="Count"/>), or <paramref name="count"/> is negative or more than <paramref name="index"/>+1.</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public long LastIndexOf(T item, long index, long count)
    {
        ThrowIfDisposed();
        if (_count == 0)
            return -1;
        if ((ulong)index >= (ulong)_count)
            ThrowHelper.ThrowIndexOutOfRange(nameof(index), index, _count);
        if (count < 0 || count > index + 1)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(count), count, $"The elements counted back from index {index} must lie inside the list: count must be in [0, {index + 1}].");
        return FindLast(item, index, count);
    }

    /// <summary>True if an element equals <paramref name="item"/> (by <see cref="EqualityComparer{T}.Default"/>).</summary>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public bool Contains(T item) => IndexOf(item) >= 0;

    /// <summary>Removes the first element equal to <paramref name="item"/>, moving the rest down by one; false if there is none.</summary>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public bool Remove(T item)
    {
        long index = IndexOf(item);
        if (index < 0)
            return false;
        RemoveAt(index);
        return true;
    }

    /// <summary>Sorts the elements by <see cref="Comparer{T}.Default"/>. Not stable: equal elements may change order.</summary>
    /// <remarks>Up to int.MaxValue elements this is the span sort <see cref="List{T}.Sort()"/> runs; longer lists are
    /// partitioned in place by long index until each piece fits a span, then each piece is span-sorted. No extra memory.</remarks>
    /// <exception cref="InvalidOperationException">The comparer threw (the inner exception); the order is then unspecified.</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public void Sort() => Sort(0, Count, null);

    /// <summary>Sorts the elements by <paramref name="comparer"/> (<c>null</c>: <see cref="Comparer{T}.Default"/>). Not stable.</summary>
    /// <remarks>A comparer that contradicts itself leaves the order unspecified, but never reads or writes outside the list.</remarks>
    /// <exception cref="InvalidOperationException">The comparer threw (the inner exception); the order is then unspecified.</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public void Sort(IComparer<T>? comparer) => Sort(0, Count, comparer);

    /// <summary>Sorts the elements by <paramref name="comparison"/>. Not stable.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="comparison"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The comparison threw (the inner exception); the order is then unspecified.</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public void Sort(Comparison<T> comparison)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(comparison);
        LongSort.Sort<T, ComparisonOrder<T>>(_buffer, 0, _count, new ComparisonOrder<T>(comparison), int.MaxValue, this);
        _version++;
    }

    /// <summary>Sorts elements [<paramref name="index"/>, <paramref name="index"/>+<paramref name="count"/>) by <paramref name="comparer"/> (<c>null</c>: <see cref="Comparer{T}.Default"/>). Not stable.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> or <paramref name="count"/> is negative.</exception>
    /// <exception cref="ArgumentException">The range does not lie inside the list.</exception>
    /// <exception cref="InvalidOperationException">The comparer threw (the inner exception); the order is then unspecified.</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public void Sort(long index, long count, IComparer<T>? comparer) => Sort(index, count, comparer, int.MaxValue);

    /// <summary>
    /// <see cref="Sort(long, long, IComparer{T})"/> with the longest piece handed to the span sort as a parameter, so
    /// tests can run the long-index partition and heap sort over small lists.
    /// </summary>
    internal void Sort(long index, long count, IComparer<T>? comparer, long spanLimit)
    {
        CheckRange(index, count);
        if (comparer is null || ReferenceEquals(comparer, Comparer<T>.Default))
            LongSort.Sort<T, DefaultOrder<T>>(_buffer, index, count, default, spanLimit, this);
        else
            LongSort.Sort<T, ComparerOrder<T>>(_buffer, index, count, new ComparerOrder<T>(comparer), spanLimit, this);
        _version++;
    }

    /// <summary>
    /// Searches the sorted list for <paramref name="item"/> by <see cref="Comparer{T}.Default"/>: its index if found,
    /// else the bitwise complement of the index of the first larger element (of <see cref="Count"/> if none), where
    /// inserting it keeps the order. Among equal elements any one may be found (the same one <see cref="List{T}"/> finds).
    /// </summary>
    /// <exception cref="InvalidOperationException">The comparer threw (the inner exception).</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public long BinarySearch(T item) => BinarySearch(0, Count, item, null);

    /// <summary>As <see cref="BinarySearch(T)"/>, by <paramref name="comparer"/> (<c>null</c>: <see cref="Comparer{T}.Default"/>); the list must be sorted by it.</summary>
    /// <exception cref="InvalidOperationException">The comparer threw (the inner exception).</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public long BinarySearch(T item, IComparer<T>? comparer) => BinarySearch(0, Count, item, comparer);

    /// <summary>As <see cref="BinarySearch(T, IComparer{T})"/> within [<paramref name="index"/>, <paramref name="index"/>+<paramref name="count"/>), which must be sorted.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> or <paramref name="count"/> is negative.</exception>
    /// <exception cref="ArgumentException">The range does not lie inside the list.</exception>
    /// <exception cref="InvalidOperationException">The comparer threw (the inner exception).</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public long BinarySearch(long index, long count, T item, IComparer<T>? comparer)
    {
        CheckRange(index, count);
        return comparer is null || ReferenceEquals(comparer, Comparer<T>.Default)
            ? LongSort.BinarySearch<T, DefaultOrder<T>>(_buffer, index, count, item, default, this)
            : LongSort.BinarySearch<T, ComparerOrder<T>>(_buffer, index, count, item, new ComparerOrder<T>(comparer), this);
    }

    /// <summary>Copies every element into <paramref name="array"/> from its start.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="array"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="array"/> is shorter than <see cref="Count"/>.</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public void CopyTo(T[] array) => CopyTo(array, 0);

    /// <summary>Copies every element into <paramref name="array"/> from <paramref name="arrayIndex"/> on.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="array"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="arrayIndex"/> is negative.</exception>
    /// <exception cref="ArgumentException">The elements do not fit between <paramref name="arrayIndex"/> and the array's end.</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public void CopyTo(T[] array, int arrayIndex)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(array);
        if (arrayIndex < 0)
            ThrowHelper.ThrowNegativeLength(nameof(arrayIndex), arrayIndex);
        if (array.Length - arrayIndex < _count)
            ThrowHelper.ThrowDestinationTooShort(nameof(array), _count, Math.Max(array.Length - arrayIndex, 0));
        CopyOut(0, array.AsSpan(arrayIndex, (int)_count));
    }

    /// <summary>Copies elements [<paramref name="index"/>, <paramref name="index"/>+<paramref name="count"/>) into <paramref name="array"/> from <paramref name="arrayIndex"/> on.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="array"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/>, <paramref name="arrayIndex"/> or <paramref name="count"/> is negative.</exception>
    /// <exception cref="ArgumentException">The range does not lie inside the list, or does not fit the array from <paramref name="arrayIndex"/> on.</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public void CopyTo(long index, T[] array, int arrayIndex, int count)
    {
        ThrowIfDisposed();
        // List<T>'s order of checks, so the same bad call throws the same exception: the list's range, then the array's.
        if (_count - index < count)
            ThrowHelper.ThrowRangeOutsideCollection(nameof(count), index, count, _count);
        ArgumentNullException.ThrowIfNull(array);
        if (index < 0)
            ThrowHelper.ThrowNegativeLength(nameof(index), index);
        if (arrayIndex < 0)
            ThrowHelper.ThrowNegativeLength(nameof(arrayIndex), arrayIndex);
        if (count < 0)
            ThrowHelper.ThrowNegativeLength(nameof(count), count);
        if (array.Length - arrayIndex < count)
            ThrowHelper.ThrowDestinationTooShort(nameof(array), count, array.Length - arrayIndex);
        CopyOut(index, array.AsSpan(arrayIndex, count));
    }

    /// <summary>Copies every element into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="Count"/>.</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public void CopyTo(Span<T> destination)
    {
        ThrowIfDisposed();
        if (destination.Length < _count)
            ThrowHelper.ThrowDestinationTooShort(nameof(destination), _count, destination.Length);
        CopyOut(0, destination[..(int)_count]);
    }

    /// <summary>Fills <paramref name="destination"/> with the elements from <paramref name="index"/> on (<c>destination.Length</c> of them).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative.</exception>
    /// <exception cref="ArgumentException">Fewer than <c>destination.Length</c> elements follow <paramref name="index"/>.</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public void CopyTo(long index, Span<T> destination)
    {
        CheckRange(index, destination.Length);
        CopyOut(index, destination);
    }

    private void CopyOut(long index, Span<T> destination)
    {
        if (!destination.IsEmpty)
            _buffer.Window(index, destination.Length, this).CopyTo(destination);
    }

    /// <summary>List&lt;T&gt;'s range check for (index, count) arguments: negatives first, then the range against the list.</summary>
    private void CheckRange(long index, long count)
    {
        ThrowIfDisposed();
        if (index < 0)
            ThrowHelper.ThrowNegativeLength(nameof(index), index);
        if (count < 0)
            ThrowHelper.ThrowNegativeLength(nameof(count), count);
        if (_count - index < count)
            ThrowHelper.ThrowRangeOutsideCollection(nameof(count), index, count, _count);
    }

    private void ThrowSearchStartOutOfRange(long index) =>
        ThrowHelper.ThrowArgumentOutOfRange(nameof(index), index, $"A search can start at any index in [0, {_count}] of the list.");

    // Forward search of [start, start+count) a span at a time.
    private long Find(T item, long start, long count)
    {
        long end = start + count;
        for (long at = start; at < end; at += SearchChunk)
        {
            int length = (int)Math.Min(SearchChunk, end - at);
            int found = ElementSearch.IndexOf<T>(_buffer.Window(at, length, this), item);
            if (found >= 0)
                return at + found;
        }
        return -1;
    }

    // Backward search of the count elements ending at last, a span at a time.
    private long FindLast(T item, long last, long count)
    {
        long first = last - count + 1;
        for (long end = last + 1; end > first; end -= SearchChunk)
        {
            long at = Math.Max(first, end - SearchChunk);
            int found = ElementSearch.LastIndexOf<T>(_buffer.Window(at, (int)(end - at), this), item);
            if (found >= 0)
                return at + found;
        }
        return -1;
    }
}
