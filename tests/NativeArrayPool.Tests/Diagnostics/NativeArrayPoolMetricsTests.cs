using System.Diagnostics.Metrics;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Diagnostics;

public class NativeArrayPoolMetricsTests
{
    /// <summary>Reads every NativeArrayPool instrument once, keeping the measurements tagged with one pool's name.</summary>
    private static Dictionary<string, long> Collect(string pool)
    {
        var values = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "NativeArrayPool")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? poolName = null, path = null;
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "pool.name") poolName = (string?)tag.Value;
                if (tag.Key == "growth.path") path = (string?)tag.Value;
            }
            if (poolName == pool)
                lock (values)
                    values[path is null ? instrument.Name : $"{instrument.Name}[{path}]"] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return values;
    }

    [Fact]
    public void Instruments_report_the_pools_statistics_tagged_with_its_name()
    {
        string name = "metrics-" + Guid.NewGuid().ToString("N");
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Name = name, GrowthPaths = GrowthPaths.InPlace | GrowthPaths.Copy });

        NativeBuffer<byte> kept = pool.Rent(3 << 20);               // a 4 MiB class
        NativeBuffer<byte> grown = pool.Rent(4096);
        pool.Resize(ref grown, 8192);                                  // in place
        NativeBuffer<byte> small = pool.Rent(100);
        pool.Resize(ref small, 5000);                                  // a slot cannot grow in place: copied
        pool.Return(small);
        Assert.Throws<InvalidOperationException>(() => pool.Return(small));
        pool.Trim();

        NativePoolStatistics s = pool.GetStatistics();
        Dictionary<string, long> values = Collect(name);

        Assert.Equal(s.InUseBytes, values["nativearraypool.memory.in_use"]);
        Assert.Equal((4L << 20) + 8192, values["nativearraypool.memory.in_use"]);
        Assert.Equal(s.MappedBytes, values["nativearraypool.memory.mapped"]);
        Assert.Equal(s.KernelMappings, values["nativearraypool.kernel_mappings"]);
        Assert.Equal(s.MappingBudget, values["nativearraypool.kernel_mappings.budget"]);
        Assert.Equal(3, values["nativearraypool.rents"]);
        Assert.Equal((4L << 20) + 4096 + 112, values["nativearraypool.bytes_rented"]); // capacities as rented, before growth
        Assert.Equal(s.BytesRented, values["nativearraypool.bytes_rented"]);
        Assert.Equal(1, values["nativearraypool.returns"]);
        Assert.Equal(1, values["nativearraypool.grows[in_place]"]);
        Assert.Equal(1, values["nativearraypool.grows[copy]"]);
        Assert.Equal(0, values["nativearraypool.grows[remap_fixed]"]);
        Assert.Equal(0, values["nativearraypool.grows[remap]"]);
        Assert.Equal(112, values["nativearraypool.bytes_copied"]); // the 112-byte slot's contents
        Assert.Equal(s.MovesDeclinedByBudget, values["nativearraypool.moves_declined"]);
        Assert.Equal(1, values["nativearraypool.trims"]);
        Assert.Equal(1, values["nativearraypool.misuse"]);
        Assert.Equal(1, s.Trims);
        Assert.Equal(1, s.MisuseDetected);
        if (OperatingSystem.IsLinux())
            Assert.True(values.ContainsKey("nativearraypool.memory.resident"));

        pool.Return(kept);
        pool.Return(grown);
    }

    [Trait(Layer.Trait, Layer.Linux)] // resident bytes are read from /proc
    [LinuxFact]
    public void Resident_bytes_follow_the_pages_the_pool_touched()
    {
        string name = "resident-" + Guid.NewGuid().ToString("N");
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Name = name, Backend = MemoryBackend.Linux, TransparentHugePages = false });
        NativeBuffer<byte> buffer = pool.Rent(32 << 20);
        long before = Collect(name)["nativearraypool.memory.resident"];
        buffer.AsSpan().Fill(1);
        long after = Collect(name)["nativearraypool.memory.resident"];
        Assert.True(before < 4 << 20, $"untouched: {before} bytes resident");
        Assert.True(after - before >= 31 << 20, $"after touching 32 MiB: {before} → {after}");
        pool.Return(buffer);
    }

    [Fact]
    public void Disposed_pools_leave_the_measurements()
    {
        string name = "disposed-" + Guid.NewGuid().ToString("N");
        var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Name = name });
        pool.Return(pool.Rent(10));
        Assert.Equal(1, Collect(name)["nativearraypool.rents"]);
        pool.Dispose();
        Assert.Empty(Collect(name));
    }

    [Fact]
    public void Unnamed_pools_get_distinct_names_and_the_shared_pool_is_called_shared()
    {
        using var a = NativeArrayPool<byte>.Create();
        using var b = NativeArrayPool<byte>.Create();
        Assert.StartsWith("pool-", a.Core.Name);
        Assert.NotEqual(a.Core.Name, b.Core.Name);
        Assert.Equal("shared", NativeArrayPool<byte>.Shared.Core.Name);
        NativeArrayPool<int>.Shared.Return(NativeArrayPool<int>.Shared.Rent(1));
        Assert.True(Collect("shared")["nativearraypool.rents"] >= 1);
    }
}
