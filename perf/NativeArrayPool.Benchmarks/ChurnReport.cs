using System.Diagnostics;
using System.Globalization;

namespace NativeBuffers.Benchmarks;

/// <summary>
/// The <c>churn</c> verb: runs the churn workload once per pool, each in a fresh child process (so Gen-2 counts and
/// peak RSS belong to that pool alone), and prints a markdown table. Peak RSS is VmHWM from /proc/self/status.
/// </summary>
public static class ChurnReport
{
    public const string ChildVerb = "churn-child";

    public static int Run(string[] args)
    {
        int steps = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2000;
        Console.WriteLine($"Churn: {ChurnWorkload.Live} live buffers of 1–64 MiB, {steps} return+rent steps, one process per pool.");
        Console.WriteLine();
        Console.WriteLine("| Pool | Gen-0 | Gen-1 | Gen-2 | Peak RSS (MiB) | Time (ms) | Time per step (µs) |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        int status = 0;
        foreach (string pool in new[] { "ArrayPoolShared", "NativeArrayPoolShared" })
        {
            var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true };
            // Under `dotnet X.dll` the process path is dotnet itself: pass the assembly along.
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
                start.ArgumentList.Add(typeof(ChurnReport).Assembly.Location);
            start.ArgumentList.Add(ChildVerb);
            start.ArgumentList.Add(pool);
            start.ArgumentList.Add(steps.ToString(CultureInfo.InvariantCulture));
            using Process child = Process.Start(start)!;
            string line = child.StandardOutput.ReadToEnd().Trim();
            child.WaitForExit();
            if (child.ExitCode != 0)
                status = child.ExitCode;
            Console.WriteLine(line);
        }
        return status;
    }

    public static int RunChild(string[] args)
    {
        string pool = args[1];
        int steps = int.Parse(args[2], CultureInfo.InvariantCulture);
        ChurnWorkload.IPool target = pool == "NativeArrayPoolShared" ? new ChurnWorkload.Native() : new ChurnWorkload.Managed();
        var workload = new ChurnWorkload();
        int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
        var clock = Stopwatch.StartNew();
        workload.Fill(target);
        for (int i = 0; i < steps; i++)
            workload.Step(target);
        workload.Drain(target);
        clock.Stop();
        gen0 = GC.CollectionCount(0) - gen0;
        gen1 = GC.CollectionCount(1) - gen1;
        gen2 = GC.CollectionCount(2) - gen2;
        double peakMiB = PeakRssBytes() / (1024.0 * 1024.0);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {pool} | {gen0} | {gen1} | {gen2} | {peakMiB:F0} | {clock.Elapsed.TotalMilliseconds:F0} | {clock.Elapsed.TotalMilliseconds * 1000 / steps:F1} |"));
        return 0;
    }

    private static long PeakRssBytes()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
        }
        return 0;
    }
}
