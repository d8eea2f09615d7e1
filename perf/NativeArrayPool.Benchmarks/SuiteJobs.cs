using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;

namespace NativeBuffers.Benchmarks;

public enum SuiteMode { Full, Quick, Dry }

/// <summary>
/// The suite's jobs in one place. Benchmarks pick a shape with <see cref="MicroJobAttribute"/> (nanosecond
/// operations, BenchmarkDotNet's pilot decides the invocation count) or <see cref="HeavyJobAttribute"/>
/// (operations of milliseconds to seconds, one invocation per iteration, so iteration setup can run between them);
/// the mode from the command line decides how long each runs.
/// </summary>
public static class SuiteJobs
{
    public static SuiteMode Mode = SuiteMode.Full;

    /// <summary>Processes per nanosecond-scale case (<c>--launches N</c>); one unless asked.</summary>
    public static int MicroLaunches = 1;

    public static Job Micro() => Mode switch
    {
        SuiteMode.Dry => Job.Dry.WithId("Dry"),
        SuiteMode.Quick => Job.Default.WithId("Quick").WithLaunchCount(MicroLaunches).WithWarmupCount(3).WithIterationCount(5)
            .WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(100)),
        _ => Job.Default.WithId("Micro").WithLaunchCount(MicroLaunches).WithWarmupCount(4).WithIterationCount(10),
    };

    public static Job Heavy() => Mode switch
    {
        SuiteMode.Dry => Job.Dry.WithId("Dry"),
        SuiteMode.Quick => Job.Default.WithId("Quick").WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(3)
            .WithInvocationCount(1).WithUnrollFactor(1),
        _ => Job.Default.WithId("Heavy").WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(5)
            .WithInvocationCount(1).WithUnrollFactor(1),
    };

    public static IConfig With(Job job) => ManualConfig.CreateEmpty().AddJob(job).AddDiagnoser(MemoryDiagnoser.Default);
}

/// <summary>Nanosecond-scale benchmarks: rent/return and friends.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class MicroJobAttribute : Attribute, IConfigSource
{
    public IConfig Config => SuiteJobs.With(SuiteJobs.Micro());
}

/// <summary>Millisecond-to-second benchmarks: one invocation per iteration.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class HeavyJobAttribute : Attribute, IConfigSource
{
    public IConfig Config => SuiteJobs.With(SuiteJobs.Heavy());
}
