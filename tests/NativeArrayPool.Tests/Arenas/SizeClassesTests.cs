using FsCheck;
using FsCheck.Fluent;
using NativeBuffers.Arenas;

namespace NativeBuffers.Tests.Arenas;

public class SizeClassesTests
{
    private static Arbitrary<long> Requests =>
        Gen.Choose(0, 44).SelectMany(shift => Gen.Choose(0, 1 << 20).Select(jitter => Math.Clamp((1L << shift) + jitter - (1 << 19), 1, SizeClasses.MaxSize)))
           .ToArbitrary();

    [Fact]
    public void Class_is_at_least_the_request_and_within_the_waste_bound()
    {
        Prop.ForAll(Requests, bytes =>
        {
            int index = SizeClasses.ClassOf(bytes);
            long size = SizeClasses.SizeOf(index);
            bool fits = size >= bytes;
            // Below a page neighbours are at most 25 % apart; from a page on, powers of two waste < 50 %.
            bool tight = bytes <= SizeClasses.MinSize || (bytes <= SizeClasses.PageSize ? size < bytes * 1.25 : size < bytes * 2);
            bool smallest = index == 0 || SizeClasses.SizeOf(index - 1) < bytes;
            return fits && tight && smallest;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Classes_are_monotone_and_round_trip()
    {
        for (int index = 0; index < SizeClasses.Count; index++)
        {
            long size = SizeClasses.SizeOf(index);
            Assert.Equal(index, SizeClasses.ClassOf(size));
            if (index > 0)
            {
                long previous = SizeClasses.SizeOf(index - 1);
                Assert.True(previous < size);
                Assert.Equal(index, SizeClasses.ClassOf(previous + 1));
                if (size <= SizeClasses.PageSize && previous >= SizeClasses.MinSize)
                    Assert.True(size <= previous * 1.25, $"{previous} → {size} is more than 25 % apart");
                Assert.Equal(0, size % 8);
            }
        }
        Assert.Equal(SizeClasses.PageSize, SizeClasses.SizeOf(SizeClasses.PageClass));
        Assert.Equal(SizeClasses.HugeSize, SizeClasses.SizeOf(SizeClasses.HugeClass));
        Assert.Equal(SizeClasses.MaxSize, SizeClasses.SizeOf(SizeClasses.MaxClass));
    }

    /// <summary>
    /// Every request up to two pages gets the smallest class that fits. ClassOf takes the page formula from exactly a
    /// page on and the small one below it, so this covers both formulas and where they meet.
    /// </summary>
    [Fact]
    public void Every_request_up_to_two_pages_gets_the_smallest_class_that_fits()
    {
        for (long bytes = 1; bytes <= 2 * SizeClasses.PageSize; bytes++)
        {
            int index = SizeClasses.ClassOf(bytes);
            Assert.True(SizeClasses.SizeOf(index) >= bytes, $"{bytes} B got class {index} of {SizeClasses.SizeOf(index)} B");
            Assert.True(index == 0 || SizeClasses.SizeOf(index - 1) < bytes, $"{bytes} B got class {index}, but {index - 1} fits");
        }
    }
}
