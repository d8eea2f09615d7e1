using System.Buffers;
using System.Runtime.InteropServices;
using FsCheck;
using FsCheck.Fluent;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Collections;

public class NativeListTests
{
    public enum Kind
    {
        Add, AddRange, Get, Set, Insert, RemoveAt, RemoveRange, Clear, EnsureCapacity, Enumerate, ModifyWhileEnumerating, AsSpan, AddRangeOwn,
        GrowWhileEnumerating, Sort, SortDescending, SortComparison, SortRange, SortLongIndex, BinarySearch, BinarySearchRange,
        IndexOf, IndexOfFrom, IndexOfRange, LastIndexOf, LastIndexOfFrom, LastIndexOfRange, Contains, Remove,
        CopyToArray, CopyToRange, CopyToSpan, CopyToWindow, CopyToOwn, LinqCount, NewListFrom,
    }

    // A total order other than the default, so both sides must agree on every position after a sort.
    private static readonly Comparer<int> Descending = Comparer<int>.Create((x, y) => y.CompareTo(x));
    private static readonly Comparison<int> Scrambled = (x, y) => (x ^ 0x55).CompareTo(y ^ 0x55);

    // A value to look for: B (in -3 … 40), which the programs' values (-100 … 100) often hold and often do not.
    private static int Sought(Op op) => op.B;

    // A second count for the three-argument searches: -3 … 67.
    private static int Count2(Op op) => op.Items.Length - 3;

    /// <summary>One step of a random program; A and B become indexes and counts relative to the list's size when it runs.</summary>
    public sealed record Op(Kind Kind, int A, int B, int[] Items)
    {
        public override string ToString() => $"{Kind}({A}, {B}, [{string.Join(",", Items)}])";
    }

    private static readonly Gen<Op> OpGen =
        // Appending its own elements is weighted up, so lists often outgrow slots into blocks whose growth moves pages.
        from kind in Gen.Frequency(Enum.GetValues<Kind>().Select(k => (k == Kind.AddRangeOwn ? 4 : 1, Gen.Constant(k))).ToArray())
        from a in Gen.Choose(-3, 1000)
        from b in Gen.Choose(-3, 40)
        from items in Gen.Choose(0, 70).SelectMany(n => Gen.ArrayOf(Gen.Choose(-100, 100), n))
        select new Op(kind, a, b, items);

    private static Arbitrary<Op[]> Programs => Gen.Sized(size => Gen.ArrayOf(OpGen, size * 2)).ToArbitrary();

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // every growth moves the buffer, so a stale self-aliased source would show
    public void Random_programs_leave_the_same_state_as_List(bool moving)
    {
        using NativeArrayPool<int> pool = moving ? SelfAliasing.MovingPool<int>() : NativeArrayPool<int>.Create();
        Prop.ForAll(Programs, ops =>
        {
            var reference = new List<int>();
            using var list = new NativeList<int>(pool);
            for (int i = 0; i < ops.Length; i++)
            {
                Op op = ops[i];
                Differential.Same(Apply(reference, op), Apply(list, op), $"step {i} {op}");
                Assert.Equal(reference.Count, list.Count);
                Assert.Equal(reference.ToArray(), list.ToArray());
                Assert.True(list.Capacity >= list.Count);
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(300));

        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(stats.Rents, stats.Returns); // every list gave its buffer back
        Assert.Equal(0, stats.InUseBytes);
    }

    // Doubling on every such step once made a 185-step program ask for gigabytes (the portable pass, which zeroes and
    // copies every byte, ran out of memory in CI). 4 Mi elements (16 MiB) still outgrows slots and blocks, so growth
    // moves pages; past it the step enumerates around a call that does not grow, on both sides alike.
    private const int GrowthCeiling = 1 << 22;

    private static int GrownCapacity(long capacity) => (int)Math.Min(capacity * 2 + 1, GrowthCeiling);

    // An index relative to the current count: covers -1 … count+1, so both edges and both sides of them.
    private static int Index(int raw, int count) => raw < 0 ? raw : raw % (count + 3) - 1;

    private static Differential.Outcome Apply(List<int> list, Op op)
    {
        int index = Index(op.A, list.Count);
        return op.Kind switch
        {
            Kind.Add => Differential.Capture(() => list.Add(op.B)),
            Kind.AddRange => Differential.Capture(() => list.AddRange(op.Items.AsSpan())),
            Kind.Get => Differential.Capture(() => list[index]),
            Kind.Set => Differential.Capture(() => list[index] = op.B),
            Kind.Insert => Differential.Capture(() => list.Insert(index, op.B)),
            Kind.RemoveAt => Differential.Capture(() => list.RemoveAt(index)),
            Kind.RemoveRange => Differential.Capture(() => list.RemoveRange(index, op.B)),
            Kind.Clear => Differential.Capture(list.Clear),
            Kind.EnsureCapacity => Differential.Capture(() => list.EnsureCapacity(op.A) >= op.A),
            Kind.Enumerate => Differential.Capture(() => Enumerate(list.GetEnumerator())),
            Kind.ModifyWhileEnumerating => Differential.Capture(() =>
            {
                using List<int>.Enumerator e = list.GetEnumerator();
                e.MoveNext();
                list.Add(op.B);
                return e.MoveNext();
            }),
            Kind.AsSpan => Differential.Capture(() => list.GetRange(index, op.B).ToArray()),
            Kind.AddRangeOwn => Differential.Capture(() =>
            {
                (int start, int count) = OwnWindow(list.Count, op);
                list.AddRange(CollectionsMarshal.AsSpan(list).Slice(start, count));
            }),
            Kind.GrowWhileEnumerating => Differential.Capture(() =>
            {
                List<int>.Enumerator e = list.GetEnumerator();
                e.MoveNext();
                list.EnsureCapacity(GrownCapacity(list.Capacity));
                return Enumerate(e);
            }),
            Kind.Sort => Differential.Capture(list.Sort),
            Kind.SortDescending => Differential.Capture(() => list.Sort(Descending)),
            Kind.SortComparison => Differential.Capture(() => list.Sort(Scrambled)),
            Kind.SortRange or Kind.SortLongIndex => Differential.Capture(() => list.Sort(index, op.B, op.Items.Length % 2 == 0 ? null : Descending)),
            Kind.BinarySearch => Differential.Capture(() => list.BinarySearch(Sought(op))),
            Kind.BinarySearchRange => Differential.Capture(() => list.BinarySearch(index, op.B, Count2(op), op.Items.Length % 2 == 0 ? null : Descending)),
            Kind.IndexOf => Differential.Capture(() => list.IndexOf(Sought(op))),
            Kind.IndexOfFrom => Differential.Capture(() => list.IndexOf(Sought(op), index)),
            Kind.IndexOfRange => Differential.Capture(() => list.IndexOf(Sought(op), index, Count2(op))),
            Kind.LastIndexOf => Differential.Capture(() => list.LastIndexOf(Sought(op))),
            Kind.LastIndexOfFrom => Differential.Capture(() => list.LastIndexOf(Sought(op), index)),
            Kind.LastIndexOfRange => Differential.Capture(() => list.LastIndexOf(Sought(op), index, Count2(op))),
            Kind.Contains => Differential.Capture(() => list.Contains(Sought(op))),
            Kind.Remove => Differential.Capture(() => list.Remove(Sought(op))),
            Kind.CopyToArray => Differential.Capture(() =>
            {
                int[] array = new int[op.B + 3];
                list.CopyTo(array, op.Items.Length % 6 - 1);
                return array;
            }),
            Kind.CopyToRange => Differential.Capture(() =>
            {
                int[] array = new int[40];
                list.CopyTo(index, array, op.Items.Length % 12 - 1, op.B);
                return array;
            }),
            Kind.CopyToSpan => Differential.Capture(() =>
            {
                int[] array = new int[op.B + 3];
                CollectionsMarshal.AsSpan(list).CopyTo(array);
                return array;
            }),
            Kind.CopyToWindow => Differential.Capture(() => list.GetRange(index, Math.Abs(op.B)).ToArray()),
            // Self-aliasing destination: the elements from A over the window at B, overlapping or not. The reference
            // moves them as Array.Copy moves within one array (as if copied through a temporary).
            Kind.CopyToOwn => Differential.Capture(() =>
            {
                (int from, int to, int count) = OwnCopy(list.Count, op);
                int[] items = CollectionsMarshal.AsSpan(list).ToArray();
                Array.Copy(items, from, items, to, count);
                items.AsSpan().CopyTo(CollectionsMarshal.AsSpan(list));
            }),
            Kind.LinqCount => Differential.Capture(() => Enumerable.Count(list) + (Enumerable.Any(list) ? 1000 : 0)),
            Kind.NewListFrom => Differential.Capture(() => new List<int>(list).ToArray()),
            _ => throw new ArgumentOutOfRangeException(nameof(op)),
        };
    }

    private static Differential.Outcome Apply(NativeList<int> list, Op op)
    {
        int index = Index(op.A, (int)list.Count);
        return op.Kind switch
        {
            Kind.Add => Differential.Capture(() => list.Add(op.B)),
            Kind.AddRange => Differential.Capture(() => list.AddRange(op.Items)),
            Kind.Get => Differential.Capture(() => list[index]),
            Kind.Set => Differential.Capture(() => list[index] = op.B),
            Kind.Insert => Differential.Capture(() => list.Insert(index, op.B)),
            Kind.RemoveAt => Differential.Capture(() => list.RemoveAt(index)),
            Kind.RemoveRange => Differential.Capture(() => list.RemoveRange(index, op.B)),
            Kind.Clear => Differential.Capture(list.Clear),
            Kind.EnsureCapacity => Differential.Capture(() => list.EnsureCapacity(op.A) >= op.A),
            Kind.Enumerate => Differential.Capture(() => Enumerate(list.GetEnumerator())),
            Kind.ModifyWhileEnumerating => Differential.Capture(() =>
            {
                NativeList<int>.Enumerator e = list.GetEnumerator();
                e.MoveNext();
                list.Add(op.B);
                return e.MoveNext();
            }),
            // List.GetRange throws ArgumentOutOfRange for negatives and ArgumentException past the end; a span
            // window is one check, so map "past the end" the way GetRange reports it.
            Kind.AsSpan => Differential.Capture(() =>
            {
                if (index >= 0 && op.B >= 0 && index + op.B > list.Count)
                    throw new ArgumentException("past the end");
                return list.AsSpan(index, op.B).ToArray();
            }),
            Kind.AddRangeOwn => Differential.Capture(() =>
            {
                (int start, int count) = OwnWindow((int)list.Count, op);
                list.AddRange(list.AsSpan(start, count));
            }),
            Kind.GrowWhileEnumerating => Differential.Capture(() =>
            {
                NativeList<int>.Enumerator e = list.GetEnumerator();
                e.MoveNext();
                list.EnsureCapacity(GrownCapacity(list.Capacity)); // moves the elements: the enumerator must read them at their new address
                return Enumerate(e);
            }),
            Kind.Sort => Differential.Capture(list.Sort),
            Kind.SortDescending => Differential.Capture(() => list.Sort(Descending)),
            Kind.SortComparison => Differential.Capture(() => list.Sort(Scrambled)),
            Kind.SortRange => Differential.Capture(() => list.Sort(index, op.B, op.Items.Length % 2 == 0 ? null : Descending)),
            // The path of lists longer than a span, over small ones: pieces of at most 1 … 5 elements go to the span sort.
            Kind.SortLongIndex => Differential.Capture(() => list.Sort(index, op.B, op.Items.Length % 2 == 0 ? null : Descending, spanLimit: 1 + op.A % 5)),
            Kind.BinarySearch => Differential.Capture(() => list.BinarySearch(Sought(op))),
            Kind.BinarySearchRange => Differential.Capture(() => list.BinarySearch(index, op.B, Count2(op), op.Items.Length % 2 == 0 ? null : Descending)),
            Kind.IndexOf => Differential.Capture(() => list.IndexOf(Sought(op))),
            Kind.IndexOfFrom => Differential.Capture(() => list.IndexOf(Sought(op), index)),
            Kind.IndexOfRange => Differential.Capture(() => list.IndexOf(Sought(op), index, Count2(op))),
            Kind.LastIndexOf => Differential.Capture(() => list.LastIndexOf(Sought(op))),
            Kind.LastIndexOfFrom => Differential.Capture(() => list.LastIndexOf(Sought(op), index)),
            Kind.LastIndexOfRange => Differential.Capture(() => list.LastIndexOf(Sought(op), index, Count2(op))),
            Kind.Contains => Differential.Capture(() => list.Contains(Sought(op))),
            Kind.Remove => Differential.Capture(() => list.Remove(Sought(op))),
            Kind.CopyToArray => Differential.Capture(() =>
            {
                int[] array = new int[op.B + 3];
                list.CopyTo(array, op.Items.Length % 6 - 1);
                return array;
            }),
            Kind.CopyToRange => Differential.Capture(() =>
            {
                int[] array = new int[40];
                list.CopyTo(index, array, op.Items.Length % 12 - 1, op.B);
                return array;
            }),
            Kind.CopyToSpan => Differential.Capture(() =>
            {
                int[] array = new int[op.B + 3];
                list.CopyTo(array.AsSpan());
                return array;
            }),
            Kind.CopyToWindow => Differential.Capture(() =>
            {
                int[] array = new int[Math.Abs(op.B)];
                list.CopyTo(index, array.AsSpan());
                return array;
            }),
            Kind.CopyToOwn => Differential.Capture(() =>
            {
                (int from, int to, int count) = OwnCopy((int)list.Count, op);
                list.CopyTo(from, list.AsSpan(to, count));
            }),
            Kind.LinqCount => Differential.Capture(() => Enumerable.Count(list) + (Enumerable.Any(list) ? 1000 : 0)),
            Kind.NewListFrom => Differential.Capture(() => new List<int>(list).ToArray()),
            _ => throw new ArgumentOutOfRangeException(nameof(op)),
        };
    }

    /// <summary>
    /// A window of the list's own elements to append: A picks the start, B the count (a multiple of 4: to the end,
    /// so lists reach blocks that move pages). Past 16 Ki elements it stays within 40, so programs stay small.
    /// </summary>
    /// <summary>A copy of count elements within a list of <paramref name="length"/>: from A and to B (both wrapped into the list).</summary>
    private static (int From, int To, int Count) OwnCopy(int length, Op op)
    {
        int from = Math.Max(op.A, 0) % (length + 1);
        int to = Math.Max(op.B, 0) % (length + 1);
        return (from, to, Math.Min(op.Items.Length, length - Math.Max(from, to)));
    }

    private static (int Start, int Count) OwnWindow(int length, Op op)
    {
        int start = Math.Max(op.A, 0) % (length + 1);
        int count = op.B % 4 == 0 && length <= 16 << 10 ? length - start : Math.Min(Math.Abs(op.B), length - start);
        return (start, count);
    }

    private static int[] Enumerate<TEnumerator>(TEnumerator e) where TEnumerator : IEnumerator<int>
    {
        var items = new List<int>();
        while (e.MoveNext())
            items.Add(e.Current);
        return items.ToArray();
    }

    [Theory]
    [MemberData(nameof(SelfAliasing.Lengths), MemberType = typeof(SelfAliasing))]
    public void AddRange_of_its_own_elements_reads_them_as_they_were_before_growth(int count)
    {
        // The span points into the list's buffer, which growth gives back to the pool (see SelfAliasing).
        using NativeArrayPool<int> pool = SelfAliasing.MovingPool<int>();
        using var list = new NativeList<int>(count, pool);
        var reference = new List<int>(count);
        for (int i = 0; i < count; i++)
        {
            list.Add(i * 3 + 1);
            reference.Add(i * 3 + 1);
        }
        Assert.Equal(count, list.Capacity); // full, so AddRange grows

        list.AddRange(list.AsSpan());
        reference.AddRange(CollectionsMarshal.AsSpan(reference));
        list.AddRange(list.AsSpan(count / 3, count)); // a window, from a buffer that must grow again
        reference.AddRange(CollectionsMarshal.AsSpan(reference).Slice(count / 3, count));
        list.AddRange(list.AsSpan(5, 10)); // and one that fits without growth
        reference.AddRange(CollectionsMarshal.AsSpan(reference).Slice(5, 10));

        SelfAliasing.AssertSame<int>(reference.ToArray(), list.ToArray(), "List<int>");
    }

    [Fact]
    public void Use_after_dispose_throws_and_dispose_is_idempotent()
    {
        using var pool = NativeArrayPool<long>.Create();
        var list = new NativeList<long>(pool);
        list.AddRange([1, 2, 3]);
        NativeList<long>.Enumerator e = list.GetEnumerator();
        list.Dispose();
        list.Dispose();
        Assert.Throws<ObjectDisposedException>(() => list.Add(4));
        Assert.Throws<ObjectDisposedException>(() => list.Count);
        Assert.Throws<ObjectDisposedException>(() => list[0]);
        Assert.Throws<ObjectDisposedException>(() => list.AsSpan());
        Assert.Throws<ObjectDisposedException>(() => e.MoveNext());
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(stats.Rents, stats.Returns);
    }

    [Fact]
    public void A_sequence_taken_before_growth_throws_after_it_rather_than_reading_freed_memory()
    {
        using var pool = NativeArrayPool<int>.Create();
        using var list = new NativeList<int>(pool);
        list.AddRange([1, 2, 3]);
        ReadOnlySequence<int> before = list.AsSequence();
        Assert.Equal([1, 2, 3], before.ToArray());
        list.EnsureCapacity(list.Capacity + 1);
        Assert.Throws<ObjectDisposedException>(() => before.First.Span[0]);
    }

    [Fact]
    public void Large_growth_moves_pages_instead_of_copying()
    {
        using var pool = NativeArrayPool<long>.Create();
        using var list = new NativeList<long>(pool);
        const long count = 16L << 20; // 128 MiB of longs, one at a time
        for (long i = 0; i < count; i++)
            list.Add(i * 3);
        for (long i = 0; i < count; i += 65_537)
            Assert.Equal(i * 3, list[i]);
        Assert.Equal((count - 1) * 3, list[count - 1]);

        NativePoolStatistics stats = pool.GetStatistics();
        if (!Layer.MovesPages(pool))
        {
            // The portable layer (NATIVEARRAYPOOL_BACKEND=Portable) copies every growth out of its block: contents are checked above.
            Assert.True(stats.BytesCopied >= 64L << 20, $"{stats}");
            return;
        }
        // Only buffers below 2 MiB are copied (small steps, and the crossing into the huge space), less than 2 MiB in all;
        // the six doublings from 2 MiB to 128 MiB move pages or grow in place.
        Assert.True(stats.BytesCopied < NativeBuffers.Arenas.SizeClasses.HugeSize, $"{stats}");
        Assert.True(stats.GrowsInPlace + stats.GrowsRemappedFixed + stats.GrowsRemapped >= 6, $"{stats}");
    }
    [Fact]
    public void Doubles_are_searched_and_sorted_by_their_Equals_and_CompareTo_as_List_does()
    {
        // Not bitwise: 0.0 equals -0.0, NaN equals NaN; the default comparer puts NaN first.
        double[] values = [3.5, -0.0, double.NaN, 0.0, double.NegativeInfinity, 1e-300, -2, double.PositiveInfinity, 0.0, double.NaN, -7.25];
        using var list = new NativeList<double>();
        list.AddRange(values);
        var reference = new List<double>(values);
        foreach (double sought in new[] { 0.0, -0.0, double.NaN, -2, 42.0 })
        {
            Assert.Equal(reference.IndexOf(sought), list.IndexOf(sought));
            Assert.Equal(reference.LastIndexOf(sought), list.LastIndexOf(sought));
            Assert.Equal(reference.Contains(sought), list.Contains(sought));
        }

        reference.Sort();
        list.Sort();
        Assert.Equal(reference.Select(BitConverter.DoubleToInt64Bits), list.ToArray().Select(BitConverter.DoubleToInt64Bits));
        foreach (double sought in new[] { 0.0, double.NaN, 2.0, double.PositiveInfinity, 1e308 })
            Assert.Equal(reference.BinarySearch(sought), list.BinarySearch(sought));

        // The long-index path orders by the same comparer; equal elements (0.0 and -0.0) may land in either order.
        using var shuffled = new NativeList<double>();
        shuffled.AddRange(values);
        shuffled.Sort(0, shuffled.Count, null, spanLimit: 2);
        Assert.Equal(reference, shuffled.ToArray());
    }

    public enum Side : short { Left = -1, Right = 1, Up = 300 }

    [Fact]
    public void Enums_and_structs_are_found_as_List_finds_them()
    {
        Side[] sides = [Side.Up, Side.Left, Side.Right, Side.Up, Side.Left];
        using var enums = new NativeList<Side>();
        enums.AddRange(sides);
        foreach (Side s in new[] { Side.Left, Side.Right, Side.Up, (Side)7 })
        {
            Assert.Equal(sides.ToList().IndexOf(s), enums.IndexOf(s));
            Assert.Equal(sides.ToList().LastIndexOf(s), enums.LastIndexOf(s));
        }

        (int, long)[] pairs = [(1, 2), (3, 4), (1, 2), (0, 0)];
        using var structs = new NativeList<(int, long)>();
        structs.AddRange(pairs);
        Assert.Equal(2, structs.LastIndexOf((1, 2)));
        Assert.Equal(3, structs.IndexOf(default));
        Assert.True(structs.Remove((3, 4)));
        Assert.False(structs.Remove((3, 4)));
        Assert.Equal([(1, 2), (1, 2), (0, 0)], structs.ToArray());
    }

    [Fact]
    public void LINQ_and_collection_constructors_read_the_count_instead_of_enumerating()
    {
        using var list = new NativeList<int>();
        list.AddRange([5, 6, 7]);
        Assert.True(Enumerable.TryGetNonEnumeratedCount(list, out int count));
        Assert.Equal(3, count);
        ICollection<int> collection = list;
        Assert.False(collection.IsReadOnly);
        Assert.Equal(3, ((IReadOnlyCollection<int>)list).Count);
        Assert.Equal([5, 6, 7], new List<int>(list)); // Count, then CopyTo(T[], 0)
        list.Dispose();
        Assert.Throws<ObjectDisposedException>(() => collection.Count);
    }

    [Fact]
    public void Sort_by_Comparison_rejects_null_and_a_throwing_comparer_throws_InvalidOperationException_as_in_List()
    {
        using var list = new NativeList<int>();
        list.AddRange([3, 1, 2]);
        Assert.Throws<ArgumentNullException>(() => list.Sort((Comparison<int>)null!));
        var reference = new List<int>([3, 1, 2]);
        Comparison<int> throwing = (_, _) => throw new FormatException();
        Assert.IsType<FormatException>(Assert.Throws<InvalidOperationException>(() => reference.Sort(throwing)).InnerException);
        Assert.IsType<FormatException>(Assert.Throws<InvalidOperationException>(() => list.Sort(throwing)).InnerException);
        Assert.IsType<FormatException>(Assert.Throws<InvalidOperationException>(() => list.BinarySearch(1, Comparer<int>.Create(throwing))).InnerException);
        Assert.Throws<ArgumentNullException>(() => list.CopyTo(null!, 0));
    }

    [Fact]
    public void Sorting_or_removing_during_enumeration_makes_the_enumerator_throw_as_in_List()
    {
        using var list = new NativeList<int>();
        list.AddRange([3, 1, 2]);
        NativeList<int>.Enumerator e = list.GetEnumerator();
        Assert.True(e.MoveNext());
        list.Sort();
        Assert.Throws<InvalidOperationException>(() => e.MoveNext());
        e = list.GetEnumerator();
        Assert.True(e.MoveNext());
        Assert.False(list.Remove(42)); // nothing removed: the enumerator goes on
        Assert.True(e.MoveNext());
        Assert.True(list.Remove(1));
        Assert.Throws<InvalidOperationException>(() => e.MoveNext());
    }
}
