using System.Reflection;

namespace NativeBuffers.Tests.Pooling;

public class NativePoolStatisticsTests
{
    private static readonly PropertyInfo[] Counters = typeof(NativePoolStatistics).GetProperties()
        .Where(p => p.PropertyType == typeof(long) || p.PropertyType == typeof(int))
        .ToArray();

    /// <summary>Statistics whose every counter holds a distinct value: <paramref name="scale"/> times its position.</summary>
    private static NativePoolStatistics Numbered(int scale, string backend)
    {
        object boxed = new NativePoolStatistics { Backend = backend };
        for (int i = 0; i < Counters.Length; i++)
        {
            long value = (i + 1L) * scale;
            Counters[i].SetValue(boxed, Counters[i].PropertyType == typeof(int) ? (object)(int)value : value);
        }
        return (NativePoolStatistics)boxed;
    }

    [Fact]
    public void Combine_adds_every_counter_and_keeps_the_largest_mapping_reserve()
    {
        // Reflection, so a counter added later that Combine forgets fails here instead of silently summing to 0.
        Assert.True(Counters.Length >= 30, $"only {Counters.Length} counters found: the reflection misses properties");
        NativePoolStatistics first = Numbered(1, "linux"), second = Numbered(100, "linux");

        NativePoolStatistics combined = first.Combine(second);

        foreach (PropertyInfo counter in Counters)
        {
            long a = Convert.ToInt64(counter.GetValue(first)), b = Convert.ToInt64(counter.GetValue(second));
            // The reserve is what the process keeps for itself, the same for every pool: the largest, not a sum.
            long expected = counter.Name == nameof(NativePoolStatistics.MappingReserve) ? Math.Max(a, b) : a + b;
            Assert.True(expected == Convert.ToInt64(counter.GetValue(combined)), $"{counter.Name}: Combine gives {counter.GetValue(combined)}, expected {expected}");
        }
        Assert.Equal("linux", combined.Backend);
    }

    [Fact]
    public void Combine_with_empty_statistics_changes_no_counter()
    {
        NativePoolStatistics pool = Numbered(7, "portable");

        NativePoolStatistics combined = new NativePoolStatistics { Backend = "" }.Combine(pool);

        Assert.Equal(pool, combined);
    }

    [Fact]
    public void Every_property_is_a_counter_or_the_backend()
    {
        // Combine knows how to merge numbers and the backend's name; a property of another type needs a rule of its own.
        string[] others = typeof(NativePoolStatistics).GetProperties().Except(Counters).Select(p => p.Name).ToArray();
        Assert.Equal([nameof(NativePoolStatistics.Backend)], others);
    }
}
