using System.Buffers;
using System.Collections;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using NativeBuffers.Collections;
using NativeBuffers.Pooling;

namespace NativeBuffers;

/// <summary>
/// A growable list of unmanaged values in native memory: <see cref="List{T}"/>'s shape with <see cref="long"/>
/// counts and indexes, so it can hold more than 2 GiB, and growth that moves pages instead of copying.
/// </summary>
/// <remarks>
/// <para>Storage is one lease rented from a <see cref="NativeArrayPool{T}"/> (by default
/// <see cref="NativeArrayPool{T}.Shared"/>). When it is full the capacity doubles through
/// <see cref="NativeArrayPool{T}.Resize"/>: in place when the neighbouring memory is free, by moving pages
/// (mremap) for large buffers, and by copying only small ones. Growth never touches the GC heap.</para>
/// <para>Ownership: the list owns its lease and returns it on <see cref="Dispose"/>; every member except
/// <see cref="Dispose"/> then throws <see cref="ObjectDisposedException"/>. Spans and references handed out
/// (<see cref="AsSpan(long, int)"/>, the indexer) are valid only until the list next grows or is disposed, and are
/// not checked: unlike <see cref="List{T}"/>'s old array, the memory they point to goes back to the pool (or its pages
/// move) at once, so a stale one reads other bytes. Sequences from <see cref="AsSequence"/> throw
/// <see cref="ObjectDisposedException"/> instead. <see cref="AddRange"/> accepts the list's own elements, as
/// <see cref="List{T}"/> does. Elements beyond <see cref="Count"/> hold whatever the memory held: the pool does not
/// clear on rent. docs/collections.md has the details.</para>
/// <para>Searching, sorting and copying out (<see cref="IndexOf(T)"/>, <see cref="Sort()"/>, <see cref="BinarySearch(T)"/>,
/// <see cref="CopyTo(T[])"/> and their overloads) behave as their <see cref="List{T}"/> namesakes, by long index,
/// also past int.MaxValue elements. Through <see cref="ICollection{T}"/> and <see cref="IReadOnlyCollection{T}"/> the
/// count is an int, which LINQ's <c>Count()</c> and <c>Any()</c> read instead of enumerating; beyond int.MaxValue
/// elements it throws <see cref="OverflowException"/>: read the long <see cref="Count"/> instead.</para>
/// <para>Thread-safety: none. Like <see cref="List{T}"/>, concurrent reads are safe while nobody writes;
/// anything else needs external locking.</para>
/// </remarks>
/// <example>
/// <code>
/// using var column = new NativeList&lt;double&gt;();
/// foreach (double price in ReadPrices())
///     column.Add(price);
/// double first = column[0];
/// </code>
/// </example>
/// <typeparam name="T">An unmanaged element type.</typeparam>
[DebuggerDisplay("{ToString(),nq}")]
public sealed partial class NativeList<T> : ICollection<T>, IReadOnlyCollection<T>, IDisposable, IMemoryOrigin where T : unmanaged
{
    private readonly NativeArrayPool<T> _pool;
    // The list alone resizes or returns its lease (it never hands it out), so the enumerator reads elements without
    // the lease check (UncheckedElementAt), which is what lets foreach keep up with List<T>'s. Every other member
    // checks the lease, so a list whose pool was disposed throws ObjectDisposedException; an enumeration already under
    // way then goes on reading the lease's memory, which stays mapped until the list is disposed.
    private NativeBuffer<T> _buffer;
    private long _count;
    private int _version;
    private int _growths; // the sequences handed out record it, to tell whether growth or disposal made them stale
    private bool _disposed;

    // What the user holds when a sequence from this list is used stale (see IMemoryOrigin).
    private static readonly string s_name = $"NativeList<{typeof(T).Name}>";
    private static readonly string s_sequenceWhat = $"A ReadOnlySequence<{typeof(T).Name}> from {s_name}.AsSequence";

    /// <summary>Creates an empty list that rents nothing until the first element arrives.</summary>
    /// <param name="pool">The pool to rent from; <c>null</c> for <see cref="NativeArrayPool{T}.Shared"/>.</param>
    /// <exception cref="ObjectDisposedException"><paramref name="pool"/> was disposed.</exception>
    public NativeList(NativeArrayPool<T>? pool = null) : this(0, pool)
    {
    }

    /// <summary>Creates an empty list with room for at least <paramref name="capacity"/> elements.</summary>
    /// <param name="capacity">Elements to make room for up front; 0 rents nothing.</param>
    /// <param name="pool">The pool to rent from; <c>null</c> for <see cref="NativeArrayPool{T}.Shared"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is negative or larger than <see cref="NativeArrayPool{T}.MaxLength"/>.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="pool"/> was disposed.</exception>
    public NativeList(long capacity, NativeArrayPool<T>? pool = null)
    {
        _pool = pool ?? NativeArrayPool<T>.Shared;
        _buffer = _pool.Rent(capacity);
    }

    /// <summary>The pool this list rents from.</summary>
    public NativeArrayPool<T> Pool => _pool;

    /// <summary>The number of elements.</summary>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public long Count
    {
        get
        {
            ThrowIfDisposed();
            return _count;
        }
    }

    /// <summary>How many elements fit before the list must grow: the rented buffer's length.</summary>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public long Capacity
    {
        get
        {
            ThrowIfDisposed();
            return _buffer.Length;
        }
    }

    /// <summary>A reference to the element at <paramref name="index"/>, valid until the list grows or is disposed.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside [0, <see cref="Count"/>).</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public ref T this[long index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            ThrowIfDisposed();
            if ((ulong)index >= (ulong)_count)
                ThrowHelper.ThrowIndexOutOfRange(nameof(index), index, _count);
            return ref _buffer.ElementAt(index, this);
        }
    }

    /// <summary>Appends <paramref name="item"/>, growing the list if it is full.</summary>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    /// <exception cref="InsufficientMemoryException">The pool could not grow the buffer; the list is unchanged.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(T item)
    {
        ThrowIfDisposed();
        long count = _count;
        if (count == _buffer.Length)
            Grow(count + 1);
        _buffer.ElementAt(count, this) = item;
        _count = count + 1;
        _version++;
    }

    /// <summary>
    /// Appends every element of <paramref name="items"/>, growing at most once. <paramref name="items"/> may be this
    /// list's own elements (<c>list.AddRange(list.AsSpan())</c>): they are read as they were before the growth, as
    /// <see cref="List{T}"/> does.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    /// <exception cref="InsufficientMemoryException">The pool could not grow the buffer; the list is unchanged.</exception>
    public void AddRange(ReadOnlySpan<T> items)
    {
        ThrowIfDisposed();
        if (items.IsEmpty)
            return;
        long needed = _count + items.Length;
        if (needed > _buffer.Length)
            items = GrowFor(items, needed);
        items.CopyTo(_buffer.Window(_count, items.Length, this));
        _count = needed;
        _version++;
    }

    /// <summary>Inserts <paramref name="item"/> before the element at <paramref name="index"/>, moving the rest up by one.</summary>
    /// <param name="index">From 0 to <see cref="Count"/> (which appends).</param>
    /// <param name="item">The value to insert.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside [0, <see cref="Count"/>].</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    /// <exception cref="InsufficientMemoryException">The pool could not grow the buffer; the list is unchanged.</exception>
    public void Insert(long index, T item)
    {
        ThrowIfDisposed();
        if ((ulong)index > (ulong)_count)
            ThrowHelper.ThrowInsertIndexOutOfRange(index, _count);
        if (_count == _buffer.Length)
            Grow(_count + 1);
        _buffer.CopyWithin(index, index + 1, _count - index, this);
        _buffer.ElementAt(index, this) = item;
        _count++;
        _version++;
    }

    /// <summary>Removes the element at <paramref name="index"/>, moving the rest down by one.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside [0, <see cref="Count"/>).</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public void RemoveAt(long index)
    {
        ThrowIfDisposed();
        if ((ulong)index >= (ulong)_count)
            ThrowHelper.ThrowIndexOutOfRange(nameof(index), index, _count);
        _buffer.CopyWithin(index + 1, index, _count - index - 1, this);
        _count--;
        _version++;
    }

    /// <summary>Removes <paramref name="count"/> elements starting at <paramref name="index"/>, moving the rest down.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> or <paramref name="count"/> is negative.</exception>
    /// <exception cref="ArgumentException">The range does not lie inside the list.</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public void RemoveRange(long index, long count)
    {
        CheckRange(index, count);
        if (count == 0)
            return;
        _buffer.CopyWithin(index + count, index, _count - index - count, this);
        _count -= count;
        _version++;
    }

    /// <summary>Removes every element. The capacity, and the memory, are kept for reuse; contents are not cleared.</summary>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public void Clear()
    {
        ThrowIfDisposed();
        _count = 0;
        _version++;
    }

    /// <summary>
    /// Makes room for at least <paramref name="capacity"/> elements, growing geometrically (at least doubling), and
    /// returns the new <see cref="Capacity"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is negative or larger than <see cref="NativeArrayPool{T}.MaxLength"/>.</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    /// <exception cref="InsufficientMemoryException">The pool could not grow the buffer; the list is unchanged.</exception>
    public long EnsureCapacity(long capacity)
    {
        ThrowIfDisposed();
        if (capacity < 0)
            ThrowHelper.ThrowNegativeLength(nameof(capacity), capacity);
        if (capacity > NativeArrayPool<T>.MaxLength)
            ThrowHelper.ThrowTooLarge(nameof(capacity), capacity, NativeArrayPool<T>.MaxLength);
        if (capacity > _buffer.Length)
            Grow(capacity);
        return _buffer.Length;
    }

    /// <summary>All elements as one span, valid until the list grows or is disposed.</summary>
    /// <exception cref="InvalidOperationException"><see cref="Count"/> exceeds <see cref="int.MaxValue"/>; use <see cref="AsSpan(long, int)"/> or <see cref="AsSequence"/>.</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public Span<T> AsSpan()
    {
        ThrowIfDisposed();
        if (_count > int.MaxValue)
            ThrowHelper.ThrowTooManyForSpan(nameof(NativeList<T>), _count, "AsSpan(start, length) or AsSequence()");
        return _buffer.Window(0, (int)_count, this);
    }

    /// <summary>Elements [<paramref name="start"/>, <paramref name="start"/>+<paramref name="length"/>) as a span, valid until the list grows or is disposed.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The window does not lie inside [0, <see cref="Count"/>).</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public Span<T> AsSpan(long start, int length)
    {
        ThrowIfDisposed();
        if ((ulong)start > (ulong)_count || (ulong)length > (ulong)(_count - start))
            ThrowHelper.ThrowWindowOutside(nameof(start), start, length, _count, "list");
        return _buffer.Window(start, length, this);
    }

    /// <summary>
    /// All elements as a <see cref="ReadOnlySequence{T}"/> (segments of at most 2^30 elements), for APIs that take
    /// sequences and for lists beyond 2 GiB. Valid until the list grows or is disposed: reading it afterwards throws
    /// <see cref="ObjectDisposedException"/>.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public ReadOnlySequence<T> AsSequence()
    {
        ThrowIfDisposed();
        return NativeSequence.Create(_buffer, _count, s_sequenceWhat, this);
    }

    /// <summary>Copies the elements into a new managed array.</summary>
    /// <exception cref="InvalidOperationException"><see cref="Count"/> exceeds <see cref="Array.MaxLength"/>.</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public T[] ToArray()
    {
        ThrowIfDisposed();
        if (_count > Array.MaxLength)
            ThrowHelper.ThrowTooManyForSpan(nameof(NativeList<T>), _count, "AsSpan(start, length) or AsSequence()");
        return _buffer.Window(0, (int)_count, this).ToArray();
    }

    /// <summary>Returns an enumerator over the elements. Adding, inserting, removing or clearing during enumeration makes the enumerator throw.</summary>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    public Enumerator GetEnumerator()
    {
        ThrowIfDisposed();
        _buffer.CheckedAddress(this); // a lease ended by the pool's disposal throws here, before the unchecked reads begin
        return new Enumerator(this);
    }

    IEnumerator<T> IEnumerable<T>.GetEnumerator() => GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>
    /// <see cref="Count"/> as an int, for <see cref="ICollection{T}"/> and its users: LINQ's <c>Count()</c> and
    /// <c>Any()</c>, <c>new List&lt;T&gt;(list)</c>, <c>ToArray()</c> read it instead of enumerating.
    /// </summary>
    /// <exception cref="OverflowException"><see cref="Count"/> exceeds <see cref="int.MaxValue"/>: such a list has no int
    /// count (enumerating it in <c>Count()</c> would overflow as well); read the long <see cref="Count"/>.</exception>
    /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
    int ICollection<T>.Count => IntCount();

    /// <inheritdoc cref="ICollection{T}.Count"/>
    int IReadOnlyCollection<T>.Count => IntCount();

    /// <summary>False: the list can be changed.</summary>
    bool ICollection<T>.IsReadOnly => false;

    /// <summary>Returns the buffer to the pool. Calling it again does nothing.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _count = 0;
        _version++; // so an enumerator's one version check also notices disposal
        CollectionBuffer.Release(ref _buffer);
    }

    /// <summary>Describes the list for debugging; does not throw after disposal.</summary>
    public override string ToString() =>
        _disposed ? $"NativeList<{typeof(T).Name}>[disposed]" : $"NativeList<{typeof(T).Name}>[{_count}]";

    /// <summary>Grows to hold at least <paramref name="minimum"/> elements: doubling, so n appends cost O(n) in total.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow(long minimum)
    {
        long max = NativeArrayPool<T>.MaxLength;
        if (minimum > max)
            ThrowHelper.ThrowCollectionTooLarge(nameof(NativeList<T>), minimum, max);
        CollectionBuffer.Grow(_pool, ref _buffer, minimum, this);
        _growths++;
    }

    /// <summary>
    /// Grows to hold <paramref name="minimum"/> elements and returns <paramref name="source"/>, read again from the
    /// grown buffer if it pointed into this list's own (which the growth gives back).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ReadOnlySpan<T> GrowFor(ReadOnlySpan<T> source, long minimum)
    {
        long offset = OwnMemory.ByteOffset(_buffer, source, this);
        Grow(minimum);
        return offset < 0 ? source : OwnMemory.At(_buffer, offset, source.Length, this);
    }

    string IMemoryOrigin.Name => s_name;

    int IMemoryOrigin.Epoch => _growths;

    string IMemoryOrigin.DescribeEnd(int epoch)
    {
        if (epoch != _growths)
            return $"the {s_name} grew since, which moved its elements to a bigger buffer and gave the old one back to the pool. Call AsSequence again after the last Add, AddRange, Insert or EnsureCapacity that can grow the list.";
        if (_disposed)
            return $"the {s_name} was disposed, which returned its buffer to the pool. Use the list's sequence before disposing the list.";
        if (_pool.Core.IsDisposed)
            return $"the pool the {s_name} rents from was disposed, which ended the list's buffer. Dispose a pool only after the lists that use it.";
        return $"the {s_name}'s buffer was returned to its pool.";
    }

    private int IntCount()
    {
        ThrowIfDisposed();
        if (_count > int.MaxValue)
            ThrowHelper.ThrowCountTooLargeForInt(nameof(NativeList<T>), _count);
        return (int)_count;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfDisposed()
    {
        if (_disposed)
            ThrowHelper.ThrowCollectionDisposed(nameof(NativeList<T>));
    }

    /// <summary>Enumerates a <see cref="NativeList{T}"/> without allocating.</summary>
    /// <remarks>Throws <see cref="InvalidOperationException"/> from <see cref="MoveNext"/> if the list was structurally modified after the enumerator was created.</remarks>
    public struct Enumerator : IEnumerator<T>
    {
        private readonly NativeList<T> _list;
        private readonly int _version;
        private long _index;
        private T _current;

        internal Enumerator(NativeList<T> list)
        {
            _list = list;
            _version = list._version;
            _index = 0;
            _current = default;
        }

        /// <summary>The element at the enumerator's position.</summary>
        public readonly T Current => _current;

        readonly object IEnumerator.Current
        {
            get
            {
                if (_index == 0 || _index == _list._count + 1)
                    ThrowHelper.ThrowEnumerationNotStarted();
                return _current;
            }
        }

        /// <summary>Advances to the next element; false at the end.</summary>
        /// <exception cref="InvalidOperationException">The list was modified since the enumerator was created.</exception>
        /// <exception cref="ObjectDisposedException">The list was disposed.</exception>
        public bool MoveNext()
        {
            // List<T>'s shape: one version check (Dispose bumps the version too) and one bounds check per element,
            // then a read from the list's current address, which growth by EnsureCapacity may have changed. Nothing
            // here takes the enumerator's address, and the only call is a throw helper that never returns, so in a
            // foreach loop the JIT keeps the enumerator and the caller's locals in registers and hoists the loads.
            NativeList<T> list = _list;
            if (_version != list._version)
                ThrowHelper.ThrowEnumerationEnded(list._disposed, nameof(NativeList<T>));
            if ((ulong)_index < (ulong)list._count)
            {
                _current = list._buffer.UncheckedElementAt(_index);
                _index++;
                return true;
            }
            _index = list._count + 1;
            _current = default;
            return false;
        }

        /// <summary>Goes back to before the first element.</summary>
        /// <exception cref="InvalidOperationException">The list was modified since the enumerator was created.</exception>
        public void Reset()
        {
            if (_version != _list._version)
                ThrowHelper.ThrowEnumerationModified();
            _index = 0;
            _current = default;
        }

        /// <summary>Does nothing: the enumerator holds no resources.</summary>
        public readonly void Dispose()
        {
        }
    }
}
