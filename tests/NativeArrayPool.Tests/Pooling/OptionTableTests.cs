using System.Reflection;
using NativeBuffers.Pooling;

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// <see cref="OptionTable"/> is the one place an option's default and range are written: every option has a row,
/// a new options object holds the rows' defaults, and options set in code and environment variables accept exactly
/// the same numbers.
/// </summary>
public class OptionTableTests
{
    // Options that take any value and are not read from the environment, so they have no row.
    private static readonly string[] WithoutRow = [nameof(NativePoolOptions.Name), nameof(NativePoolOptions.LeakReported)];

    [Fact]
    public void Every_public_option_has_a_row_or_is_known_to_take_any_value()
    {
        string[] properties = typeof(NativePoolOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite)
            .Select(p => p.Name)
            .Except(WithoutRow)
            .Order(StringComparer.Ordinal)
            .ToArray();

        Assert.Equal(properties, OptionTable.All.Select(o => o.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_new_options_object_holds_every_rows_default()
    {
        var options = new NativePoolOptions();
        foreach (PoolOption row in OptionTable.All)
        {
            object? value = typeof(NativePoolOptions).GetProperty(row.Name)!.GetValue(options);
            object expected = row is NumericOption numeric ? Convert.ChangeType(numeric.Default, value!.GetType()) : row.DefaultValue;
            Assert.True(Equals(expected, value), $"{row.Name}: the row says {expected}, a new NativePoolOptions holds {value}");
        }
    }

    [Fact]
    public void Code_and_environment_accept_the_same_numbers()
    {
        foreach (NumericOption row in OptionTable.Numeric)
        {
            long[] probes = [row.Min - 1, row.Min, row.Min + 1, row.Default, row.Max - 1, row.Max, row.Max + 1, (row.Min + row.Max) / 2];
            foreach (long value in probes)
            {
                bool inCode = AcceptedInCode(row, value);
                bool fromEnvironment = AcceptedFromEnvironment(row, value);
                Assert.True(inCode == fromEnvironment,
                    $"{row.Name} = {value}: accepted in code {inCode}, from {row.Variable} {fromEnvironment}");
                Assert.Equal(row.Accepts(value), inCode);
            }
        }
    }

    [Fact]
    public void The_message_for_a_value_set_in_code_names_the_option_value_and_range()
    {
        var options = new NativePoolOptions { ReservationsPerSize = 65 };
        var error = Assert.Throws<ArgumentException>(() => NativeArrayPool<byte>.Create(options));
        Assert.StartsWith("ReservationsPerSize is 65; it must be between 1 and 64.", error.Message);
        Assert.Equal("options", error.ParamName);
    }

    [Theory]
    [InlineData(0, true)]                     // off
    [InlineData(1, true)]                     // the shortest delay
    [InlineData(90_000, true)]
    [InlineData(24 * 3_600_000, true)]        // the longest
    [InlineData(24 * 3_600_000 + 1, false)]   // a timer period past a day is a mistake, and past 49 days one the timer refuses
    [InlineData(1_000L * 3_600_000, false)]
    public void Code_and_environment_accept_the_same_idle_trim_delays(long milliseconds, bool accepted)
    {
        string text = milliseconds == 0 ? "0" : milliseconds + "ms";
        bool fromEnvironment = true;
        try
        {
            NativePoolOptions.FromEnvironment(name => name == "NATIVEARRAYPOOL_IDLETRIMDELAY" ? text : null);
        }
        catch (ArgumentException e) when (e.ParamName == "NATIVEARRAYPOOL_IDLETRIMDELAY")
        {
            fromEnvironment = false;
        }
        Assert.Equal(accepted, fromEnvironment);
        var options = new NativePoolOptions { IdleTrimDelay = TimeSpan.FromMilliseconds(milliseconds) };
        if (accepted)
        {
            NativeArrayPool<byte>.Create(options).Dispose();
            return;
        }
        var error = Assert.Throws<ArgumentException>(() => NativeArrayPool<byte>.Create(options));
        Assert.Equal("options", error.ParamName);
        Assert.Contains("IdleTrimDelay", error.Message);
    }

    [Theory]
    [InlineData(1)]       // a tick: half of it is a timer period of zero, which would fire once and never again
    [InlineData(9_999)]   // just under a millisecond
    public void A_positive_idle_trim_delay_under_a_millisecond_is_refused(long ticks)
    {
        var error = Assert.Throws<ArgumentException>(() => NativeArrayPool<byte>.Create(new NativePoolOptions { IdleTrimDelay = TimeSpan.FromTicks(ticks) }));
        Assert.Equal("options", error.ParamName);
        Assert.Contains("IdleTrimDelay", error.Message);
    }

    private static bool AcceptedInCode(NumericOption row, long value)
    {
        var options = new NativePoolOptions();
        PropertyInfo property = typeof(NativePoolOptions).GetProperty(row.Name)!;
        if (property.PropertyType == typeof(int) && value is < int.MinValue or > int.MaxValue)
            return false; // cannot even be set
        property.SetValue(options, Convert.ChangeType(value, property.PropertyType));
        try
        {
            options.ToArenaSettings();
            return true;
        }
        catch (ArgumentException e) when (e.ParamName == "options")
        {
            return false;
        }
    }

    private static bool AcceptedFromEnvironment(NumericOption row, long value)
    {
        string text = value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            NativePoolOptions.FromEnvironment(name => name == row.Variable ? text : null);
            return true;
        }
        catch (ArgumentException e) when (e.ParamName == row.Variable)
        {
            return false;
        }
    }
}
