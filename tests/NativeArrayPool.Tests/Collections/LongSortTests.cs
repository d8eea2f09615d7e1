using FsCheck;
using FsCheck.Fluent;
using NativeBuffers.Collections;
using NativeBuffers.Pooling;

namespace NativeBuffers.Tests.Collections;

/// <summary>
/// The long-index sort on its own, with its two knobs turned down so small arrays run every path: pieces of at most
/// <c>spanLimit</c> elements go to the span sort, and after <c>depthLimit</c> partition levels the heap sort takes over
/// (0: heap sort only). Each array sits inside a larger buffer whose other elements must stay as they were.
/// </summary>
public class LongSortTests
{
    private const int Guard = 5; // elements on each side of the sorted range, which the sort must not touch
    private const int Sentinel = 0x5EAD;

    public sealed record Case(int[] Values, int SpanLimit, int DepthLimit, bool Descending)
    {
        public override string ToString() => $"[{string.Join(",", Values)}] span {SpanLimit} depth {DepthLimit}{(Descending ? " desc" : "")}";
    }

    // Narrow value ranges make runs of equal elements (the three-way partition's middle), wide ones make distinct keys.
    private static readonly Arbitrary<Case> Cases =
        (from range in Gen.Elements(2, 5, 1000, int.MaxValue)
         from values in Gen.Choose(0, 300).SelectMany(n => Gen.ArrayOf(Gen.Choose(-range / 2, range / 2), n))
         from spanLimit in Gen.Choose(1, 9)
         from depthLimit in Gen.Elements(0, 1, 2, 4, 64)
         from down in Gen.Elements(false, true)
         select new Case(values, spanLimit, depthLimit, down)).ToArbitrary();

    private static readonly Comparer<int> Descending = Comparer<int>.Create((x, y) => y.CompareTo(x));

    [Fact]
    public void Sorts_like_Array_Sort_by_every_path_and_touches_nothing_outside_its_range()
    {
        using var pool = NativeArrayPool<int>.Create();
        Prop.ForAll(Cases, c =>
        {
            int[] expected = (int[])c.Values.Clone();
            Array.Sort(expected, c.Descending ? Descending : null);
            int[] actual = SortInBuffer(pool, c.Values, (buffer, start, count) =>
            {
                if (c.Descending)
                    LongSort.Sort<int, ComparerOrder<int>>(buffer, start, count, new ComparerOrder<int>(Descending), c.SpanLimit, c.DepthLimit);
                else
                    LongSort.Sort<int, DefaultOrder<int>>(buffer, start, count, default, c.SpanLimit, c.DepthLimit);
            });
            Assert.Equal(expected, actual);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(500));
    }

    [Fact]
    public void A_comparer_that_contradicts_itself_leaves_a_permutation_and_stays_inside_the_range()
    {
        using var pool = NativeArrayPool<int>.Create();
        Prop.ForAll(Cases, c =>
        {
            var random = new Random(c.Values.Length * 31 + c.SpanLimit);
            // Random answers: no order exists, so every loop bound is tested against a comparer that lies.
            var liar = new ComparisonOrder<int>((_, _) => random.Next(-1, 2));
            // spanLimit 1: only the partition and the heap sort run, none of the span sort's own guards.
            int[] actual = SortInBuffer(pool, c.Values, (buffer, start, count) =>
                LongSort.Sort<int, ComparisonOrder<int>>(buffer, start, count, liar, 1, c.DepthLimit));
            Assert.Equal(c.Values.Order(), actual.Order());
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(300));
    }

    [Theory]
    [InlineData(64)] // partition
    [InlineData(0)] // heap sort
    public void A_throwing_comparer_surfaces_as_InvalidOperationException_and_loses_no_element(int depthLimit)
    {
        using var pool = NativeArrayPool<int>.Create();
        int[] values = Enumerable.Range(0, 200).Select(i => i * 7919 % 200).ToArray();
        for (int failAfter = 0; failAfter < 400; failAfter += 13)
        {
            int calls = 0;
            var failing = new ComparisonOrder<int>((x, y) => ++calls > failAfter ? throw new FormatException("boom") : x.CompareTo(y));
            int[] actual = SortInBuffer(pool, values, (buffer, start, count) =>
            {
                var e = Assert.Throws<InvalidOperationException>(() =>
                    LongSort.Sort<int, ComparisonOrder<int>>(buffer, start, count, failing, 1, depthLimit));
                Assert.IsType<FormatException>(e.InnerException);
            });
            Assert.Equal(values.Order(), actual.Order());
        }
    }

    /// <summary>Copies <paramref name="values"/> into a pooled buffer between guard elements, runs <paramref name="sort"/> on them, checks the guards and returns the range.</summary>
    private static int[] SortInBuffer(NativeArrayPool<int> pool, int[] values, Action<NativeBuffer<int>, long, long> sort)
    {
        NativeBuffer<int> buffer = pool.Rent(values.Length + 2 * Guard);
        try
        {
            Span<int> all = buffer.AsSpan();
            all.Fill(Sentinel);
            values.CopyTo(all.Slice(Guard));
            sort(buffer, Guard, values.Length);
            all = buffer.AsSpan();
            Assert.Equal(-1, all[..Guard].IndexOfAnyExcept(Sentinel));
            Assert.Equal(-1, all[(Guard + values.Length)..].IndexOfAnyExcept(Sentinel));
            return all.Slice(Guard, values.Length).ToArray();
        }
        finally
        {
            pool.Return(buffer);
        }
    }
}
