using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

namespace NativeBuffers.Benchmarks;

/// <summary>
/// Entry point. Arguments go to BenchmarkSwitcher (so <c>--filter '*Append*'</c>, <c>--list flat</c> work), except:
/// <list type="bullet">
/// <item><c>--quick</c>: short jobs (a few seconds per scenario) for a rough table; see perf/run-quick.sh.</item>
/// <item><c>--dry</c>: one invocation per benchmark, no warm-up: proves the suite still runs (CI).</item>
/// <item><c>--launches N</c>: N processes per nanosecond-scale case instead of one. A process on this VM lands in a fast or
/// a slow mode and stays there (docs/benchmarks.md), so one process per figure is a coin toss; read the Min column.</item>
/// <item><c>loop native|guarded|arraypool SIZE N</c>: a bare Rent+Return loop for perf stat / callgrind / JitDisasm.</item>
/// <item><c>append [runs] [pooled|alternate|pinned] [MiB] [peers]</c>: the native append run by run with the growth paths it took.</item>
/// <item><c>ratio A B SIZE PAIRS [ROUNDS]</c>: two pools' bare loops alternating in one process, and their per-round ratio.</item>
/// <item><c>scaling native|arraypool SIZE PAIRS</c>: the bare loop on one thread and on two, and the scaling.</item>
/// <item><c>resize [runs]</c>: one 1 GiB → 2 GiB Resize per run, timed, with the growth path it took.</item>
/// <item><c>resize-chain [runs] [written|cold]</c>: 1 MiB → 2 GiB by doubling, each step timed, with its path, alignment and faults.</item>
/// <item><c>spared [held] [idleSeconds]</c>: the resident memory a spared block costs beside held 2 MiB buffers, and after the idle trim.</item>
/// <item><c>churn [ops]</c>: the large-buffer churn report (Gen-2 counts and peak RSS, one child process per pool).</item>
/// </list>
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == ChurnReport.ChildVerb)
            return ChurnReport.RunChild(args);
        if (args.Length > 0 && args[0] == ProfileDriver.Verb)
            return ProfileDriver.Run(args);
        if (args.Length > 0 && args[0] == ProfileDriver.AppendVerb)
            return ProfileDriver.RunAppend(args);
        if (args.Length > 0 && args[0] == ProfileDriver.ResizeVerb)
            return ProfileDriver.RunResize(args);
        if (args.Length > 0 && args[0] == ProfileDriver.ResizeChainVerb)
            return ProfileDriver.RunResizeChain(args);
        if (args.Length > 0 && args[0] == ProfileDriver.SparedVerb)
            return ProfileDriver.RunSpared(args);
        if (args.Length > 0 && args[0] == ProfileDriver.ScalingVerb)
            return ProfileDriver.RunScaling(args);
        if (args.Length > 0 && args[0] == "ratio")
            return ProfileDriver.RunRatio(args);
        if (args.Length > 0 && args[0] == "stackscan")
            return ProfileDriver.RunStackScan(args);
        if (args.Length > 0 && args[0] == "churn")
            return ChurnReport.Run(args.Skip(1).ToArray());

        var rest = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--quick")
                SuiteJobs.Mode = SuiteMode.Quick;
            else if (args[i] == "--dry")
                SuiteJobs.Mode = SuiteMode.Dry;
            else if (args[i] == "--launches" && i + 1 < args.Length)
                SuiteJobs.MicroLaunches = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
            else
                rest.Add(args[i]);
        }
        // Jobs come from the [MicroJob]/[HeavyJob] attributes, which read SuiteJobs.Mode; the global config adds none.
        IConfig config = DefaultConfig.Instance.WithOptions(ConfigOptions.DisableLogFile);
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest.ToArray(), config);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
