using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// The shared pools' core is built once per process, however many threads ask for it first at the same moment. This
/// process's core exists long since, so the race is run in a new process (StressHost <c>sharedcreation</c>): eight
/// threads released by a barrier ask for <see cref="NativeArrayPool{T}.Shared"/> and <see cref="NativeMemoryPool.Shared"/>,
/// then a <see cref="System.Diagnostics.Metrics.MeterListener"/> collects once. Before the core was built under a lock,
/// every run measured 8 pools named <c>shared</c> (each thread's core registered, one published).
/// </summary>
public class SharedPoolCreationTests
{
    [Fact]
    public void Threads_that_first_use_the_shared_pool_at_once_get_one_core_and_the_metrics_see_one_shared_pool() =>
        AssertChildSeesOneSharedPool("sharedcreation");

    /// <summary>
    /// StressHost <c>sharedreentrant</c>: a <see cref="System.Diagnostics.Metrics.MeterListener"/> started before the
    /// first pool, whose InstrumentPublished callback uses the shared pool. The meter is created when the first pool
    /// registers, so the callback runs on the thread building the shared core, and asks for it again. Built under
    /// the (reentrant) lock, that request built and published a second core, which the first then replaced.
    /// </summary>
    [Fact]
    public void A_metrics_listener_that_uses_the_shared_pool_when_the_meter_appears_gets_the_one_shared_core() =>
        AssertChildSeesOneSharedPool("sharedreentrant");

    /// <summary>Runs StressHost <paramref name="mode"/> in a new process: it must pass, having measured one pool named <c>shared</c>.</summary>
    private static void AssertChildSeesOneSharedPool(string mode)
    {
        (int exitCode, string output) = StressHostProcess.Run(mode, new Dictionary<string, string>(), TimeSpan.FromMinutes(1));
        Assert.True(exitCode == 0, $"the child exited with {exitCode}:\n{output}");
        Assert.Contains("pools measured as shared: 1", output);
        Assert.Contains("PASS", output);
    }
}
