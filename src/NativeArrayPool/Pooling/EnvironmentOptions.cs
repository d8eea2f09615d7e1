using System.Globalization;
using System.Numerics;

namespace NativeBuffers.Pooling;

/// <summary>
/// Reads <see cref="NativePoolOptions"/> from environment variables named <c>NATIVEARRAYPOOL_&lt;PROPERTY&gt;</c>
/// (the property name in upper case), the way the runtime reads <c>DOTNET_SYSTEM_BUFFERS_SHAREDARRAYPOOL_*</c>.
/// Which variables there are, their ranges and defaults are the rows of <see cref="OptionTable"/>; this holds the parsers.
/// </summary>
/// <remarks>
/// <para>Values are parsed from spans, with no regex and no configuration binder, because this runs when the
/// shared pool is first touched, possibly early in a process. An unset or empty variable keeps the default.</para>
/// <para>Formats: sizes are integers with an optional binary suffix <c>K</c>, <c>M</c>, <c>G</c> or <c>T</c>
/// (optionally followed by <c>B</c> or <c>iB</c>): <c>256K</c> = 262144. Booleans are <c>1</c>/<c>0</c>/<c>true</c>/<c>false</c>.
/// <c>GrowthPaths</c> is a list of flag names separated by <c>,</c>, <c>|</c> or <c>+</c>, or a number.
/// Durations are an integer with a unit <c>ms</c>, <c>s</c>, <c>m</c> or <c>h</c> (a bare integer is seconds), or
/// <c>off</c>. Enums, booleans and units ignore case.</para>
/// <para>A malformed or out-of-range value throws <see cref="ArgumentException"/> whose message and
/// <see cref="ArgumentException.ParamName"/> name the variable: a typo in deployment settings should stop the
/// process loudly rather than run it with defaults nobody chose.</para>
/// </remarks>
internal static class EnvironmentOptions
{
    public const string Prefix = "NATIVEARRAYPOOL_";

    /// <summary>Every variable read (one per row of <see cref="OptionTable"/>), for documentation and tests.</summary>
    public static readonly string[] All = OptionTable.All.Select(option => option.Variable).ToArray();

    /// <summary>Defaults overridden by every variable that <paramref name="lookup"/> returns a non-empty value for.</summary>
    public static NativePoolOptions Read(Func<string, string?> lookup)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        var options = new NativePoolOptions();
        foreach (PoolOption option in OptionTable.All)
        {
            if (Value(lookup, option.Variable) is string text)
                option.Read(options, text);
        }
        if (options.CaptureRentStackTraces && !options.TrackLeases && !options.Guarded)
        {
            Fail(OptionTable.CaptureRentStackTraces.Variable, Value(lookup, OptionTable.CaptureRentStackTraces.Variable)!,
                $"0 unless {OptionTable.TrackLeases.Variable} or {OptionTable.Guarded.Variable} is 1 (stacks are kept in the lease table)");
        }
        return options;
    }

    /// <summary>
    /// The backend <see cref="MemoryBackend.Automatic"/> stands for: what <c>NATIVEARRAYPOOL_BACKEND</c> names, or
    /// <see cref="MemoryBackend.Automatic"/> (the platform's own layer) when it is unset.
    /// </summary>
    public static MemoryBackend ReadBackend(Func<string, string?> lookup) =>
        Value(lookup, OptionTable.Backend.Variable) is string backend ? ParseBackend(OptionTable.Backend.Variable, backend) : MemoryBackend.Automatic;

    private static string? Value(Func<string, string?> lookup, string variable)
    {
        string? value = lookup(variable);
        return string.IsNullOrWhiteSpace(value) ? null : value;
    }

    internal static long ParseInteger(string variable, string text, long min, long max)
    {
        ReadOnlySpan<char> span = text.AsSpan().Trim();
        if (!long.TryParse(span, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
            Fail(variable, text, $"an integer from {min} to {max}");
        if (value < min || value > max)
            Fail(variable, text, $"an integer from {min} to {max}");
        return value;
    }

    /// <summary>Parses "4096", "256K", "8MiB", "1G" (binary multiples) and checks it is a power of two in [min, max].</summary>
    internal static long ParsePowerOfTwoSize(string variable, string text, long min, long max)
    {
        string expected = $"a power of two from {min} to {max} bytes, optionally with a K, M, G or T suffix (e.g. 256K)";
        if (!TryParseSize(text.AsSpan(), out long bytes) || !BitOperations.IsPow2(bytes) || bytes < min || bytes > max)
            Fail(variable, text, expected);
        return bytes;
    }

    /// <summary>Parses "0", "64M", "1536K" (binary multiples) and checks it is in [min, max].</summary>
    internal static long ParseSize(string variable, string text, long min, long max)
    {
        if (!TryParseSize(text.AsSpan(), out long bytes) || bytes < min || bytes > max)
            Fail(variable, text, $"a size from {min} to {max} bytes, optionally with a K, M, G or T suffix (e.g. 64M)");
        return bytes;
    }

    internal static bool TryParseSize(ReadOnlySpan<char> text, out long bytes)
    {
        bytes = 0;
        text = text.Trim();
        int digits = 0;
        while (digits < text.Length && char.IsAsciiDigit(text[digits]))
            digits++;
        if (digits == 0 || !long.TryParse(text[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out long number))
            return false;
        ReadOnlySpan<char> unit = text[digits..].TrimStart();
        int shift = 0;
        if (unit.Length > 0)
        {
            shift = char.ToUpperInvariant(unit[0]) switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => -1 };
            if (shift < 0)
                return false;
            ReadOnlySpan<char> rest = unit[1..];
            if (!(rest.IsEmpty || rest.Equals("B", StringComparison.OrdinalIgnoreCase) || rest.Equals("iB", StringComparison.OrdinalIgnoreCase)))
                return false;
        }
        if (number > long.MaxValue >> shift)
            return false;
        bytes = number << shift;
        return true;
    }

    /// <summary>Parses "30s", "500ms", "5m", "1h", "10" (seconds), or "0"/"off" (<see cref="Timeout.InfiniteTimeSpan"/>: no idle trimming).</summary>
    internal static TimeSpan ParseDelay(string variable, string text)
    {
        const string Expected = "a duration from 1 ms to 24 h such as 500ms, 30s, 5m or 1h (a bare integer is seconds), or 0 or off";
        ReadOnlySpan<char> span = text.AsSpan().Trim();
        if (span.Equals("off", StringComparison.OrdinalIgnoreCase) || span.Equals("0", StringComparison.Ordinal))
            return Timeout.InfiniteTimeSpan;
        int digits = 0;
        while (digits < span.Length && char.IsAsciiDigit(span[digits]))
            digits++;
        long number = 0;
        if (digits == 0 || digits > 9 || !long.TryParse(span[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out number))
            Fail(variable, text, Expected);
        ReadOnlySpan<char> unit = span[digits..].TrimStart();
        long milliseconds =
            unit.IsEmpty || unit.Equals("s", StringComparison.OrdinalIgnoreCase) ? number * 1000
            : unit.Equals("ms", StringComparison.OrdinalIgnoreCase) ? number
            : unit.Equals("m", StringComparison.OrdinalIgnoreCase) ? number * 60_000
            : unit.Equals("h", StringComparison.OrdinalIgnoreCase) ? number * 3_600_000
            : -1;
        if (milliseconds < NativePoolOptions.MinIdleTrimDelay.TotalMilliseconds || milliseconds > NativePoolOptions.MaxIdleTrimDelay.TotalMilliseconds)
            Fail(variable, text, Expected);
        return TimeSpan.FromMilliseconds(milliseconds);
    }

    internal static bool ParseBoolean(string variable, string text)
    {
        ReadOnlySpan<char> span = text.AsSpan().Trim();
        if (span.Equals("1", StringComparison.Ordinal) || span.Equals("true", StringComparison.OrdinalIgnoreCase))
            return true;
        if (span.Equals("0", StringComparison.Ordinal) || span.Equals("false", StringComparison.OrdinalIgnoreCase))
            return false;
        Fail(variable, text, "1, 0, true or false");
        return false;
    }

    internal static GrowthPaths ParseGrowthPaths(string variable, string text)
    {
        const string expected = "flag names of GrowthPaths (None, InPlace, RemapFixed, Remap, Copy, All) separated by ',', '|' or '+', or a number from 0 to 15";
        ReadOnlySpan<char> span = text.AsSpan().Trim();
        if (span.Length > 0 && char.IsAsciiDigit(span[0]))
        {
            if (!int.TryParse(span, NumberStyles.None, CultureInfo.InvariantCulture, out int number) || (number & ~(int)GrowthPaths.All) != 0)
                Fail(variable, text, expected);
            return (GrowthPaths)number;
        }
        var paths = GrowthPaths.None;
        foreach (Range part in span.SplitAny(",|+".AsSpan()))
        {
            ReadOnlySpan<char> name = span[part].Trim();
            // Enum.TryParse is avoided: it accepts numbers and whitespace-separated lists we do not document.
            GrowthPaths? flag =
                name.Equals("None", StringComparison.OrdinalIgnoreCase) ? GrowthPaths.None
                : name.Equals("InPlace", StringComparison.OrdinalIgnoreCase) ? GrowthPaths.InPlace
                : name.Equals("RemapFixed", StringComparison.OrdinalIgnoreCase) ? GrowthPaths.RemapFixed
                : name.Equals("Remap", StringComparison.OrdinalIgnoreCase) ? GrowthPaths.Remap
                : name.Equals("Copy", StringComparison.OrdinalIgnoreCase) ? GrowthPaths.Copy
                : name.Equals("All", StringComparison.OrdinalIgnoreCase) ? GrowthPaths.All
                : null;
            if (flag is null)
                Fail(variable, text, expected);
            paths |= flag.GetValueOrDefault();
        }
        return paths;
    }

    internal static MemoryBackend ParseBackend(string variable, string text)
    {
        ReadOnlySpan<char> span = text.AsSpan().Trim();
        if (span.Equals("Automatic", StringComparison.OrdinalIgnoreCase))
            return MemoryBackend.Automatic;
        if (span.Equals("Linux", StringComparison.OrdinalIgnoreCase))
            return MemoryBackend.Linux;
        if (span.Equals("Portable", StringComparison.OrdinalIgnoreCase))
            return MemoryBackend.Portable;
        Fail(variable, text, "Automatic, Linux or Portable");
        return default;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Fail(string variable, string text, string expected) =>
        ThrowHelper.ThrowInvalidEnvironmentVariable(variable, $"The environment variable {variable} is '{text}'; it must be {expected}. Fix or unset it.");
}
