// GrowableVector: accumulate a large amount of data the way application code does — a batch of log records, a
// column of numbers — into a native growable vector and into its managed equivalent, and print what growth cost.
//
//   dotnet run -c Release --project samples/GrowableVector [GiB]     (default 2; managed byte sinks stop below 2 GiB)
//
// Native vectors grow through NativeArrayPool<T>.Resize: small buffers are copied, large ones grow in place or move
// their pages with mremap, so the bytes copied stay tiny however large the vector gets. Managed vectors copy
// everything they hold at every doubling, and every doubling is a new array on the large object heap.

using System.Buffers;
using System.Diagnostics;
using System.Text.Unicode;
using CommunityToolkit.HighPerformance.Buffers;
using NativeBuffers;

double gib = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 2;
long target = (long)(gib * (1L << 30));
// MemoryStream stops at Array.MaxLength; ArrayPoolBufferWriter 7.1.2 rounds a growth past 1 GiB up to 2^31, which
// overflows int and throws, so it stops at 1 GiB.
long streamCap = Math.Min(target, (long)Array.MaxLength - (64 << 20));
long toolkitCap = Math.Min(target, 1L << 30);

Console.WriteLine($"GrowableVector: {target:N0} bytes per native vector ({gib} GiB); MemoryStream capped at {streamCap:N0}, ArrayPoolBufferWriter at {toolkitCap:N0}.");
// A small silent round first, so the measured round runs optimized code (tiered JIT) in every container.
var quiet = Console.Out;
Console.SetOut(TextWriter.Null);
RunAll(16 << 20, 16 << 20, 16 << 20);
Console.SetOut(quiet);
RunAll(target, streamCap, toolkitCap);

static void RunAll(long target, long streamCap, long toolkitCap)
{
    Console.WriteLine();
    Console.WriteLine("1. Log records (text, ~110 B each) appended in 64 KiB batches");
    Header();
    RunLog("NativeBufferWriter<byte>", target, pool => new WriterSink(new NativeBufferWriter<byte>(pool)));
    RunLog("NativeMemoryStream", target, pool => new StreamSink(new NativeMemoryStream(pool)));
    RunLog("ArrayPoolBufferWriter<byte>", toolkitCap, _ => new ToolkitSink(new ArrayPoolBufferWriter<byte>()));
    RunLog("MemoryStream", streamCap, _ => new MemoryStreamSink(new MemoryStream()));

    Console.WriteLine();
    Console.WriteLine("2. A column of doubles (prices), added one at a time");
    Header();
    RunColumn(target);
}

static void Header() =>
    Console.WriteLine($"   {"container",-28} {"bytes",16} {"wall s",7} {"CPU s",6} {"gen0/1/2 GCs",13} {"GC alloc MiB",12} {"copied MiB",10}  growth path (native)");

static void RunLog(string name, long bytes, Func<NativeArrayPool<byte>, ISink> create)
{
    using var pool = NativeArrayPool<byte>.Create();
    var batch = new byte[64 * 1024];
    var records = new LogRecords();
    Measure(name, () =>
    {
        using ISink sink = create(pool);
        long copied = 0;
        while (sink.Length < bytes)
        {
            int n = records.FillBatch(batch, (int)Math.Min(batch.Length, bytes - sink.Length));
            long before = sink.Capacity;
            long length = sink.Length;
            sink.Append(batch.AsSpan(0, n));
            if (sink.Capacity != before)
                copied += length; // a managed doubling copies everything held so far
            if (n == 0)
                break;
        }
        return (sink.Length, sink.IsNative ? -1 : copied);
    }, pool);
}

static void RunColumn(long bytes)
{
    long count = bytes / sizeof(double);
    using var pool = NativeArrayPool<double>.Create();
    Measure("NativeList<double>", () =>
    {
        using var column = new NativeList<double>(pool);
        var prices = new Prices();
        for (long i = 0; i < count; i++)
            column.Add(prices.Next());
        return (column.Count * sizeof(double), -1);
    }, pool);

    long managedCount = Math.Min(count, Array.MaxLength);
    Measure<double>("List<double>", () =>
    {
        var column = new List<double>();
        var prices = new Prices();
        long copied = 0;
        for (long i = 0; i < managedCount; i++)
        {
            if (column.Count == column.Capacity)
                copied += (long)column.Count * sizeof(double);
            column.Add(prices.Next());
        }
        return ((long)column.Count * sizeof(double), copied);
    }, null);
}

static void Measure<T>(string name, Func<(long Bytes, long Copied)> run, NativeArrayPool<T>? pool) where T : unmanaged
{
    GC.Collect();
    GC.WaitForPendingFinalizers();
    int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
    long allocated = GC.GetTotalAllocatedBytes(precise: true);
    // CPU time beside wall time: on a shared machine the wall clock mostly measures the neighbours.
    TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    (long bytes, long copied) = run();
    clock.Stop();
    cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
    allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
    string gcs = $"{GC.CollectionCount(0) - gen0}/{GC.CollectionCount(1) - gen1}/{GC.CollectionCount(2) - gen2}";
    string path = "";
    if (copied < 0 && pool is not null)
    {
        NativePoolStatistics s = pool.GetStatistics();
        copied = s.BytesCopied;
        path = $"in place {s.GrowsInPlace}, mremap fixed {s.GrowsRemappedFixed}, mremap {s.GrowsRemapped}, copied {s.GrowsCopied} ({s.BytesCopied:N0} B)";
    }
    Console.WriteLine($"   {name,-28} {bytes,16:N0} {clock.Elapsed.TotalSeconds,7:F2} {cpu.TotalSeconds,6:F2} {gcs,13} {allocated / (1 << 20),12:N0} {copied / (double)(1 << 20),10:N1}  {path}");
}

/// <summary>Somewhere to append bytes; the four byte containers behind one face so the loop is the same.</summary>
interface ISink : IDisposable
{
    long Length { get; }
    long Capacity { get; }
    bool IsNative { get; }
    void Append(ReadOnlySpan<byte> data);
}

sealed class WriterSink(NativeBufferWriter<byte> writer) : ISink
{
    public long Length => writer.WrittenCount;
    public long Capacity => writer.Capacity;
    public bool IsNative => true;
    public void Append(ReadOnlySpan<byte> data)
    {
        data.CopyTo(writer.GetSpan(data.Length));
        writer.Advance(data.Length);
    }
    public void Dispose() => writer.Dispose();
}

sealed class StreamSink(NativeMemoryStream stream) : ISink
{
    public long Length => stream.Length;
    public long Capacity => stream.Capacity;
    public bool IsNative => true;
    public void Append(ReadOnlySpan<byte> data) => stream.Write(data);
    public void Dispose() => stream.Dispose();
}

sealed class ToolkitSink(ArrayPoolBufferWriter<byte> writer) : ISink
{
    public long Length => writer.WrittenCount;
    public long Capacity => writer.Capacity;
    public bool IsNative => false;
    public void Append(ReadOnlySpan<byte> data)
    {
        data.CopyTo(writer.GetSpan(data.Length));
        writer.Advance(data.Length);
    }
    public void Dispose() => writer.Dispose();
}

sealed class MemoryStreamSink(MemoryStream stream) : ISink
{
    public long Length => stream.Length;
    public long Capacity => stream.Capacity;
    public bool IsNative => false;
    public void Append(ReadOnlySpan<byte> data) => stream.Write(data);
    public void Dispose() => stream.Dispose();
}

/// <summary>Plausible access-log lines: timestamp, level, service, route, status, latency, request id.</summary>
sealed class LogRecords
{
    private static readonly string[] s_routes = ["/api/orders", "/api/orders/{id}", "/api/users/{id}", "/health", "/api/search", "/static/app.js"];
    private static readonly string[] s_levels = ["INFO ", "INFO ", "INFO ", "WARN ", "DEBUG", "ERROR"];
    private readonly Random _random = new(42);
    private DateTime _time = new(2026, 11, 22, 0, 0, 0, DateTimeKind.Utc);
    private long _id;

    /// <summary>Fills <paramref name="batch"/> with whole records, up to <paramref name="limit"/> bytes; returns the bytes used.</summary>
    public int FillBatch(Span<byte> batch, int limit)
    {
        int used = 0;
        while (true)
        {
            _time = _time.AddTicks(_random.Next(1, 20_000));
            int status = _random.Next(100) < 95 ? 200 : 500;
            if (!Utf8.TryWrite(batch[used..limit], $"{_time:O} {s_levels[_random.Next(s_levels.Length)]} svc-{_random.Next(32):D2} GET {s_routes[_random.Next(s_routes.Length)]} {status} {_random.Next(1, 900)}ms req={_id:x16}\n", out int written))
                return used == 0 ? FillTail(batch, limit) : used;
            used += written;
            _id++;
        }
    }

    // The last bytes before the target: pad with spaces so the vector ends exactly at the requested size.
    private static int FillTail(Span<byte> batch, int limit)
    {
        batch[..limit].Fill((byte)' ');
        return limit;
    }
}

/// <summary>A random walk of prices.</summary>
sealed class Prices
{
    private readonly Random _random = new(7);
    private double _price = 100;

    public double Next() => _price = Math.Max(0.01, _price + (_random.NextDouble() - 0.5) * 0.1);
}
