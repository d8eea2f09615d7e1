using System.Numerics;
using NativeBuffers.Arenas;

namespace NativeBuffers.Pooling;

/// <summary>
/// Every option of <see cref="NativePoolOptions"/> that has an environment variable: its name, variable, default,
/// allowed values and meaning, in one place. <see cref="NativePoolOptions"/> takes its defaults from here and checks
/// its ranges here; <see cref="EnvironmentOptions"/> reads the variables listed here, in this order. A new option
/// is a property of <see cref="NativePoolOptions"/>, a row here, and a line in docs/options.md.
/// </summary>
/// <remarks>
/// <see cref="NativePoolOptions.Name"/> and <see cref="NativePoolOptions.LeakReported"/> have no row: they take any
/// value and are not read from the environment. The rules that relate two options (CaptureRentStackTraces needs
/// TrackLeases or Guarded) are checked where the options are checked as a whole.
/// Thread-safety: immutable.
/// </remarks>
internal static class OptionTable
{
    public static readonly NumericOption ReservationsPerSize = new(
        nameof(NativePoolOptions.ReservationsPerSize), OptionFormat.Integer, min: 1, max: 64, defaultValue: 4,
        allowed: "between 1 and 64",
        meaning: "Reservations of one size mapped before the size doubles (K of Kuszmaul's schedule).",
        o => o.ReservationsPerSize, (o, v) => o.ReservationsPerSize = (int)v);

    public static readonly NumericOption MinimumReservationBytes = new(
        nameof(NativePoolOptions.MinimumReservationBytes), OptionFormat.PowerOfTwoBytes, min: 2L << 20, max: 1L << 30, defaultValue: 8L << 20,
        allowed: "a power of two from 2 MiB to 1 GiB",
        meaning: "Size of the first reservation of each space.",
        o => o.MinimumReservationBytes, (o, v) => o.MinimumReservationBytes = v);

    public static readonly NumericOption RemapThresholdBytes = new(
        nameof(NativePoolOptions.RemapThresholdBytes), OptionFormat.PowerOfTwoBytes, min: SizeClasses.PageSize, max: 1L << 40,
        defaultValue: NativePoolOptions.DefaultRemapThresholdBytes,
        allowed: "a power of two from 4096 to 2^40",
        meaning: "Buffers at least this large grow by moving pages rather than by copying.",
        o => o.RemapThresholdBytes, (o, v) => o.RemapThresholdBytes = v);

    public static readonly NumericOption MappingBudget = new(
        nameof(NativePoolOptions.MappingBudget), OptionFormat.Integer, min: 0, max: 1_000_000, defaultValue: 0,
        allowed: "between 0 (automatic) and 1,000,000",
        meaning: "The most kernel mappings the pool means to own; 0 is 1 % of vm.max_map_count, at least 64.",
        o => o.MappingBudget, (o, v) => o.MappingBudget = (int)v);

    public static readonly NumericOption MappingReserve = new(
        nameof(NativePoolOptions.MappingReserve), OptionFormat.Integer, min: 0, max: 1_000_000,
        defaultValue: NativePoolOptions.DefaultMappingReserve,
        allowed: "between 0 (no reserve) and 1,000,000",
        meaning: "Kernel mappings left to the rest of the process below vm.max_map_count.",
        o => o.MappingReserve, (o, v) => o.MappingReserve = (int)v);

    public static readonly Option<bool> TransparentHugePages = new(
        nameof(NativePoolOptions.TransparentHugePages), OptionFormat.Boolean, defaultValue: true, allowed: "true or false",
        meaning: "Advise transparent huge pages for classes of 2 MiB and up.",
        EnvironmentOptions.ParseBoolean, (o, v) => o.TransparentHugePages = v);

    public static readonly Option<GrowthPaths> GrowthPaths = new(
        nameof(NativePoolOptions.GrowthPaths), OptionFormat.Flags, defaultValue: NativeBuffers.GrowthPaths.All,
        allowed: "any combination of the GrowthPaths flags",
        meaning: "Which growth paths Resize may take, in their fixed order.",
        EnvironmentOptions.ParseGrowthPaths, (o, v) => o.GrowthPaths = v);

    public static readonly Option<MemoryBackend> Backend = new(
        nameof(NativePoolOptions.Backend), OptionFormat.Name, defaultValue: MemoryBackend.Automatic,
        allowed: "Automatic, Linux or Portable",
        meaning: "The virtual-memory layer; Automatic follows this variable for every pool, else the platform's own.",
        EnvironmentOptions.ParseBackend, (o, v) => o.Backend = v);

    public static readonly Option<bool> ThreadCaches = new(
        nameof(NativePoolOptions.ThreadCaches), OptionFormat.Boolean, defaultValue: true, allowed: "true or false",
        meaning: "Keep recently returned buffers in per-thread caches.",
        EnvironmentOptions.ParseBoolean, (o, v) => o.ThreadCaches = v);

    public static readonly Option<bool> ZeroOnRent = new(
        nameof(NativePoolOptions.ZeroOnRent), OptionFormat.Boolean, defaultValue: false, allowed: "true or false",
        meaning: "Hand out zeroed memory, also in the part a resize adds.",
        EnvironmentOptions.ParseBoolean, (o, v) => o.ZeroOnRent = v);

    public static readonly Option<bool> Guarded = new(
        nameof(NativePoolOptions.Guarded), OptionFormat.Boolean, defaultValue: false, allowed: "true or false",
        meaning: "Quarantine and protect returned buffers to catch use after return (debugging).",
        EnvironmentOptions.ParseBoolean, (o, v) => o.Guarded = v);

    public static readonly Option<bool> DetectRacingReturns = new(
        nameof(NativePoolOptions.DetectRacingReturns), OptionFormat.Boolean, defaultValue: false, allowed: "true or false",
        meaning: "Detect two returns of one lease racing on two threads (a compare-and-swap per return).",
        EnvironmentOptions.ParseBoolean, (o, v) => o.DetectRacingReturns = v);

    public static readonly NumericOption QuarantineBytes = new(
        nameof(NativePoolOptions.QuarantineBytes), OptionFormat.Bytes, min: 0, max: 1L << 40,
        defaultValue: NativePoolOptions.DefaultQuarantineBytes,
        allowed: "between 0 and 2^40 bytes",
        meaning: "Guarded mode's quarantine: bytes of returned buffers that wait before their memory is rented again.",
        o => o.QuarantineBytes, (o, v) => o.QuarantineBytes = v);

    public static readonly Option<bool> TrackLeases = new(
        nameof(NativePoolOptions.TrackLeases), OptionFormat.Boolean, defaultValue: false, allowed: "true or false",
        meaning: "Keep a table of the leases that are out, to find leaks.",
        EnvironmentOptions.ParseBoolean, (o, v) => o.TrackLeases = v);

    public static readonly Option<bool> CaptureRentStackTraces = new(
        nameof(NativePoolOptions.CaptureRentStackTraces), OptionFormat.Boolean, defaultValue: false,
        allowed: "true or false; true needs TrackLeases or Guarded",
        meaning: "Record a stack trace at every rent, return and resize (debugging).",
        EnvironmentOptions.ParseBoolean, (o, v) => o.CaptureRentStackTraces = v);

    public static readonly Option<TimeSpan> IdleTrimDelay = new(
        nameof(NativePoolOptions.IdleTrimDelay), OptionFormat.Duration, defaultValue: TimeSpan.FromSeconds(10),
        allowed: "from 1 ms to 24 h, or zero or Timeout.InfiniteTimeSpan to turn idle trimming off",
        meaning: "Give free memory's pages back to the OS once it has been unused this long.",
        EnvironmentOptions.ParseDelay, (o, v) => o.IdleTrimDelay = v);

    public static readonly Option<bool> TrimOnMemoryPressure = new(
        nameof(NativePoolOptions.TrimOnMemoryPressure), OptionFormat.Boolean, defaultValue: true, allowed: "true or false",
        meaning: "Trim after a full garbage collection when the machine's memory load is high.",
        EnvironmentOptions.ParseBoolean, (o, v) => o.TrimOnMemoryPressure = v);

    /// <summary>Every row, in the order the environment is read.</summary>
    public static readonly PoolOption[] All =
    [
        ReservationsPerSize, MinimumReservationBytes, RemapThresholdBytes, MappingBudget, MappingReserve,
        TransparentHugePages, GrowthPaths, Backend, ThreadCaches,
        ZeroOnRent, Guarded, DetectRacingReturns, QuarantineBytes, TrackLeases, CaptureRentStackTraces, IdleTrimDelay, TrimOnMemoryPressure,
    ];

    /// <summary>The rows with a numeric range, which <see cref="NumericOption.Validate"/> checks.</summary>
    public static readonly NumericOption[] Numeric = All.OfType<NumericOption>().ToArray();
}

/// <summary>How an option's environment variable is written (docs/options.md has the formats).</summary>
internal enum OptionFormat
{
    /// <summary>A decimal integer.</summary>
    Integer,
    /// <summary>A size in bytes (binary K/M/G/T suffixes) that must be a power of two.</summary>
    PowerOfTwoBytes,
    /// <summary>A size in bytes (binary K/M/G/T suffixes).</summary>
    Bytes,
    /// <summary>1, 0, true or false.</summary>
    Boolean,
    /// <summary>Flag names separated by ',', '|' or '+', or a number.</summary>
    Flags,
    /// <summary>The name of an enum value.</summary>
    Name,
    /// <summary>An integer with a unit (ms, s, m, h), or off.</summary>
    Duration,
}

/// <summary>One row of <see cref="OptionTable"/>.</summary>
internal abstract class PoolOption(string name, OptionFormat format, string allowed, string meaning)
{
    /// <summary>The property of <see cref="NativePoolOptions"/>.</summary>
    public string Name { get; } = name;

    /// <summary>The environment variable: the prefix and the property's name in upper case.</summary>
    public string Variable { get; } = EnvironmentOptions.Prefix + name.ToUpperInvariant();

    public OptionFormat Format { get; } = format;

    /// <summary>The values the option accepts, in words; the options' error messages end with it.</summary>
    public string Allowed { get; } = allowed;

    public string Meaning { get; } = meaning;

    /// <summary>The default, as a value of the option's type.</summary>
    public abstract object DefaultValue { get; }

    /// <summary>Parses <paramref name="text"/>, the variable's value, into <paramref name="options"/>; a bad value throws naming the variable.</summary>
    public abstract void Read(NativePoolOptions options, string text);
}

/// <summary>A row whose value is a number with a range (checked for options set in code and for the environment alike).</summary>
internal sealed class NumericOption(
    string name, OptionFormat format, long min, long max, long defaultValue, string allowed, string meaning,
    Func<NativePoolOptions, long> get, Action<NativePoolOptions, long> set)
    : PoolOption(name, format, allowed, meaning)
{
    public long Min { get; } = min;
    public long Max { get; } = max;
    public long Default { get; } = defaultValue;
    public override object DefaultValue => Default;

    public bool Accepts(long value) =>
        value >= Min && value <= Max && (Format != OptionFormat.PowerOfTwoBytes || BitOperations.IsPow2(value));

    /// <summary>Throws the options' <see cref="ArgumentException"/> when <paramref name="options"/> holds a value out of range.</summary>
    public void Validate(NativePoolOptions options)
    {
        long value = get(options);
        if (!Accepts(value))
            ThrowHelper.ThrowInvalidOptions($"{Name} is {value}; it must be {Allowed}.");
    }

    public override void Read(NativePoolOptions options, string text) => set(options, Format switch
    {
        OptionFormat.PowerOfTwoBytes => EnvironmentOptions.ParsePowerOfTwoSize(Variable, text, Min, Max),
        OptionFormat.Bytes => EnvironmentOptions.ParseSize(Variable, text, Min, Max),
        _ => EnvironmentOptions.ParseInteger(Variable, text, Min, Max),
    });
}

/// <summary>A row whose value is not a range of numbers (a boolean, flags, a name, a duration).</summary>
internal sealed class Option<T>(
    string name, OptionFormat format, T defaultValue, string allowed, string meaning,
    Func<string, string, T> parse, Action<NativePoolOptions, T> set)
    : PoolOption(name, format, allowed, meaning)
    where T : notnull
{
    public T Default { get; } = defaultValue;
    public override object DefaultValue => Default;

    public override void Read(NativePoolOptions options, string text) => set(options, parse(Variable, text));
}
