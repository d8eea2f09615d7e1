using FsCheck;
using FsCheck.Fluent;
using NativeBuffers.Pooling;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Pooling;

public class EnvironmentOptionsTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void Unset_and_empty_variables_keep_every_default()
    {
        var defaults = new NativePoolOptions();
        foreach (Func<string, string?> lookup in new[] { Env(), name => "", name => "  " })
        {
            NativePoolOptions read = NativePoolOptions.FromEnvironment(lookup);
            Assert.Equal(defaults.ReservationsPerSize, read.ReservationsPerSize);
            Assert.Equal(defaults.MinimumReservationBytes, read.MinimumReservationBytes);
            Assert.Equal(defaults.RemapThresholdBytes, read.RemapThresholdBytes);
            Assert.Equal(defaults.MappingBudget, read.MappingBudget);
            Assert.Equal(defaults.MappingReserve, read.MappingReserve);
            Assert.Equal(defaults.TransparentHugePages, read.TransparentHugePages);
            Assert.Equal(defaults.GrowthPaths, read.GrowthPaths);
            Assert.Equal(defaults.Backend, read.Backend);
            Assert.Equal(defaults.ThreadCaches, read.ThreadCaches);
            Assert.Equal(defaults.ZeroOnRent, read.ZeroOnRent);
            Assert.Equal(defaults.Guarded, read.Guarded);
            Assert.Equal(defaults.DetectRacingReturns, read.DetectRacingReturns);
            Assert.Equal(defaults.QuarantineBytes, read.QuarantineBytes);
            Assert.Equal(defaults.TrackLeases, read.TrackLeases);
            Assert.Equal(defaults.CaptureRentStackTraces, read.CaptureRentStackTraces);
            Assert.Equal(defaults.IdleTrimDelay, read.IdleTrimDelay);
            Assert.Equal(defaults.TrimOnMemoryPressure, read.TrimOnMemoryPressure);
        }
    }

    [Fact]
    public void Every_variable_sets_its_option()
    {
        NativePoolOptions read = NativePoolOptions.FromEnvironment(Env(
            ("NATIVEARRAYPOOL_RESERVATIONSPERSIZE", "8"),
            ("NATIVEARRAYPOOL_MINIMUMRESERVATIONBYTES", "16M"),
            ("NATIVEARRAYPOOL_REMAPTHRESHOLDBYTES", "1MiB"),
            ("NATIVEARRAYPOOL_MAPPINGBUDGET", "2000"),
            ("NATIVEARRAYPOOL_MAPPINGRESERVE", "512"),
            ("NATIVEARRAYPOOL_TRANSPARENTHUGEPAGES", "false"),
            ("NATIVEARRAYPOOL_GROWTHPATHS", "InPlace, copy"),
            ("NATIVEARRAYPOOL_BACKEND", "portable"),
            ("NATIVEARRAYPOOL_THREADCACHES", "0"),
            ("NATIVEARRAYPOOL_ZEROONRENT", "1"),
            ("NATIVEARRAYPOOL_GUARDED", "true"),
            ("NATIVEARRAYPOOL_DETECTRACINGRETURNS", "1"),
            ("NATIVEARRAYPOOL_QUARANTINEBYTES", "1536K"),
            ("NATIVEARRAYPOOL_TRACKLEASES", "TRUE"),
            ("NATIVEARRAYPOOL_CAPTURERENTSTACKTRACES", "1"),
            ("NATIVEARRAYPOOL_IDLETRIMDELAY", "90s"),
            ("NATIVEARRAYPOOL_TRIMONMEMORYPRESSURE", "false")));
        Assert.Equal(8, read.ReservationsPerSize);
        Assert.Equal(16L << 20, read.MinimumReservationBytes);
        Assert.Equal(1L << 20, read.RemapThresholdBytes);
        Assert.Equal(2000, read.MappingBudget);
        Assert.Equal(512, read.MappingReserve);
        Assert.False(read.TransparentHugePages);
        Assert.Equal(GrowthPaths.InPlace | GrowthPaths.Copy, read.GrowthPaths);
        Assert.Equal(MemoryBackend.Portable, read.Backend);
        Assert.False(read.ThreadCaches);
        Assert.True(read.ZeroOnRent);
        Assert.True(read.Guarded);
        Assert.True(read.DetectRacingReturns);
        Assert.Equal(1536L << 10, read.QuarantineBytes);
        Assert.True(read.TrackLeases);
        Assert.True(read.CaptureRentStackTraces);
        Assert.Equal(TimeSpan.FromSeconds(90), read.IdleTrimDelay);
        Assert.False(read.TrimOnMemoryPressure);

        // And the pool accepts what was read.
        using var pool = NativeArrayPool<byte>.Create(read);
        Assert.Equal(2000, pool.GetStatistics().MappingBudget);
        Assert.Equal(512, pool.GetStatistics().MappingReserve);
        Assert.Equal("portable", pool.GetStatistics().Backend);
        NativeBuffer<byte> buffer = pool.Rent(100);
        Assert.NotNull(Assert.Single(pool.GetLiveLeases()).RentStackTrace); // tracked, with stacks
        buffer.AsSpan().Fill(9);
        pool.Return(buffer);
        Assert.Equal(1, pool.GetStatistics().QuarantinedBuffers);         // guarded: poisoned in quarantine
        pool.Trim();
        NativeBuffer<byte> again = pool.Rent(100);                         // the same memory, poison and all
        Assert.True(again.AsSpan().IndexOfAnyExcept((byte)0) < 0, "not zeroed on rent");
        pool.Return(again);
    }

    /// <summary>
    /// The variable in a real process environment, not a lookup: the shared pool of a fresh process takes the reserve
    /// and acts on it. A reserve above vm.max_map_count leaves the pool no mapping to add, so a 64 MiB rent is refused
    /// naming the reserve; the default serves it.
    /// </summary>
    [Trait(Layer.Trait, Layer.Linux)] // the reserve applies to the Linux backend only
    [LinuxFact]
    public void The_mapping_reserve_variable_reaches_the_shared_pool_of_a_new_process()
    {
        (int exitCode, string output) = StressHostProcess.Run("sharedreserve", new Dictionary<string, string>
        {
            ["NATIVEARRAYPOOL_MAPPINGRESERVE"] = "1000000",
            ["NATIVEARRAYPOOL_BACKEND"] = "Linux",
        }, TimeSpan.FromMinutes(1));
        Assert.True(exitCode == 0, $"the child exited with {exitCode}:\n{output}");
        Assert.Contains("MappingReserve = 1000000", output);
        Assert.Contains("rent 64 MiB: refused:", output);
        Assert.Contains("mapping reserve of 1000000", output);
        Assert.Contains("vm.max_map_count", output);

        (exitCode, output) = StressHostProcess.Run("sharedreserve", new Dictionary<string, string>
        {
            ["NATIVEARRAYPOOL_MAPPINGRESERVE"] = "",
            ["NATIVEARRAYPOOL_BACKEND"] = "Linux",
        }, TimeSpan.FromMinutes(1));
        Assert.True(exitCode == 0, $"the child exited with {exitCode}:\n{output}");
        Assert.Contains($"MappingReserve = {NativePoolOptions.DefaultMappingReserve}", output);
        Assert.Contains("rent 64 MiB: served", output);
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("30s", 30_000)]
    [InlineData("30", 30_000)]
    [InlineData(" 5M ", 300_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("24h", 86_400_000)]
    public void Idle_trim_delays_accept_units(string text, long milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), NativePoolOptions.FromEnvironment(Env(("NATIVEARRAYPOOL_IDLETRIMDELAY", text))).IdleTrimDelay);

    [Theory]
    [InlineData("0")]
    [InlineData("off")]
    [InlineData("OFF")]
    public void Idle_trimming_can_be_turned_off(string text) =>
        Assert.Equal(Timeout.InfiniteTimeSpan, NativePoolOptions.FromEnvironment(Env(("NATIVEARRAYPOOL_IDLETRIMDELAY", text))).IdleTrimDelay);

    [Theory]
    [InlineData("NATIVEARRAYPOOL_RESERVATIONSPERSIZE", "0")]
    [InlineData("NATIVEARRAYPOOL_RESERVATIONSPERSIZE", "65")]
    [InlineData("NATIVEARRAYPOOL_RESERVATIONSPERSIZE", "four")]
    [InlineData("NATIVEARRAYPOOL_MINIMUMRESERVATIONBYTES", "1M")]
    [InlineData("NATIVEARRAYPOOL_MINIMUMRESERVATIONBYTES", "3M")]
    [InlineData("NATIVEARRAYPOOL_REMAPTHRESHOLDBYTES", "2K")]
    [InlineData("NATIVEARRAYPOOL_REMAPTHRESHOLDBYTES", "256Q")]
    [InlineData("NATIVEARRAYPOOL_REMAPTHRESHOLDBYTES", "-4096")]
    [InlineData("NATIVEARRAYPOOL_REMAPTHRESHOLDBYTES", "99999999999T")]
    [InlineData("NATIVEARRAYPOOL_MAPPINGBUDGET", "-1")]
    [InlineData("NATIVEARRAYPOOL_MAPPINGBUDGET", "1000001")]
    [InlineData("NATIVEARRAYPOOL_MAPPINGRESERVE", "-1")]
    [InlineData("NATIVEARRAYPOOL_MAPPINGRESERVE", "1000001")]
    [InlineData("NATIVEARRAYPOOL_TRANSPARENTHUGEPAGES", "maybe")]
    [InlineData("NATIVEARRAYPOOL_GROWTHPATHS", "InPlace,Teleport")]
    [InlineData("NATIVEARRAYPOOL_GROWTHPATHS", "16")]
    [InlineData("NATIVEARRAYPOOL_BACKEND", "windows")]
    [InlineData("NATIVEARRAYPOOL_THREADCACHES", "2")]
    [InlineData("NATIVEARRAYPOOL_ZEROONRENT", "yes")]
    [InlineData("NATIVEARRAYPOOL_GUARDED", "on")]
    [InlineData("NATIVEARRAYPOOL_QUARANTINEBYTES", "-1")]
    [InlineData("NATIVEARRAYPOOL_QUARANTINEBYTES", "2T")]
    [InlineData("NATIVEARRAYPOOL_QUARANTINEBYTES", "64 megs")]
    [InlineData("NATIVEARRAYPOOL_TRACKLEASES", "-1")]
    [InlineData("NATIVEARRAYPOOL_CAPTURERENTSTACKTRACES", "1")] // without tracking or guarded mode
    [InlineData("NATIVEARRAYPOOL_IDLETRIMDELAY", "10 days")]
    [InlineData("NATIVEARRAYPOOL_IDLETRIMDELAY", "25h")]
    [InlineData("NATIVEARRAYPOOL_IDLETRIMDELAY", "0s")]
    [InlineData("NATIVEARRAYPOOL_IDLETRIMDELAY", "-5s")]
    [InlineData("NATIVEARRAYPOOL_IDLETRIMDELAY", "1.5s")]
    [InlineData("NATIVEARRAYPOOL_TRIMONMEMORYPRESSURE", "maybe")]
    public void A_bad_value_throws_naming_the_variable_and_the_value(string variable, string value)
    {
        var error = Assert.Throws<ArgumentException>(() => NativePoolOptions.FromEnvironment(Env((variable, value))));
        Assert.Equal(variable, error.ParamName);
        Assert.Contains(variable, error.Message);
        Assert.Contains($"'{value}'", error.Message);
    }

    [Fact]
    public void Sizes_with_suffixes_parse_to_the_same_bytes_as_plain_numbers()
    {
        string[] suffixes = ["", "K", "M", "G", "T"];
        var cases = Gen.Choose(0, 4).SelectMany(unit => Gen.Choose(0, 20).SelectMany(shift =>
            Gen.Elements("", "B", "iB", "b", "IB").Select(tail => (unit, shift, tail))));
        Prop.ForAll(cases.ToArbitrary(), c =>
        {
            long number = 1L << c.shift;
            string text = c.unit == 0 ? number.ToString() : $"{number}{suffixes[c.unit]}{c.tail}";
            bool parsed = EnvironmentOptions.TryParseSize(text, out long bytes);
            return parsed && bytes == number << (10 * c.unit);
        }).QuickCheckThrowOnFailure();
    }

    [Theory]
    [InlineData("All", GrowthPaths.All)]
    [InlineData("none", GrowthPaths.None)]
    [InlineData("RemapFixed|Remap", GrowthPaths.RemapFixed | GrowthPaths.Remap)]
    [InlineData("InPlace+Copy", GrowthPaths.InPlace | GrowthPaths.Copy)]
    [InlineData("9", GrowthPaths.InPlace | GrowthPaths.Copy)]
    public void Growth_paths_accept_names_and_numbers(string text, GrowthPaths expected) =>
        Assert.Equal(expected, NativePoolOptions.FromEnvironment(Env(("NATIVEARRAYPOOL_GROWTHPATHS", text))).GrowthPaths);

    [Fact]
    public void Every_documented_variable_is_read()
    {
        var asked = new List<string>();
        NativePoolOptions.FromEnvironment(name => { asked.Add(name); return null; });
        Assert.Equal(EnvironmentOptions.All.Order(), asked.Order());
        string options = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "options.md"));
        foreach (string variable in EnvironmentOptions.All)
            Assert.Contains(variable, options);
    }

    internal static string RepositoryRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "NativeArrayPool.sln")))
            directory = Path.GetDirectoryName(directory);
        return directory ?? throw new InvalidOperationException("NativeArrayPool.sln not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void The_backend_variable_names_the_layer_Automatic_stands_for()
    {
        Assert.Equal(MemoryBackend.Automatic, EnvironmentOptions.ReadBackend(Env()));
        Assert.Equal(MemoryBackend.Portable, EnvironmentOptions.ReadBackend(Env(("NATIVEARRAYPOOL_BACKEND", "Portable"))));
        Assert.Equal(MemoryBackend.Linux, EnvironmentOptions.ReadBackend(Env(("NATIVEARRAYPOOL_BACKEND", "linux"))));
        var error = Assert.Throws<ArgumentException>(() => EnvironmentOptions.ReadBackend(Env(("NATIVEARRAYPOOL_BACKEND", "mmap"))));
        Assert.Equal("NATIVEARRAYPOOL_BACKEND", error.ParamName);
    }

    // Not Layer=Linux: it is meant to run in both CI passes. It needs Linux only because a pinned Linux pool does.
    [LinuxFact]
    public void Automatic_pools_follow_the_backend_variable_of_this_process_and_pinned_pools_do_not()
    {
        // CI runs the suite with and without NATIVEARRAYPOOL_BACKEND=Portable: this test sees each in turn.
        string expected = EnvironmentOptions.ReadBackend(Environment.GetEnvironmentVariable) == MemoryBackend.Portable ? "portable" : "linux";
        using (var automatic = NativeArrayPool<byte>.Create(new NativePoolOptions()))
            Assert.Equal(expected, automatic.GetStatistics().Backend);
        using (var linux = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = MemoryBackend.Linux }))
            Assert.Equal("linux", linux.GetStatistics().Backend);
        using (var portable = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = MemoryBackend.Portable }))
            Assert.Equal("portable", portable.GetStatistics().Backend);
    }
}
