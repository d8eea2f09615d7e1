using NativeBuffers.Os;
using NativeBuffers.Tests.Support;
using Xunit.Abstractions;

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// The pool at the kernel's real limits, each in a child process (tests/NativeArrayPool.StressHost) because
/// the limit would hit this test host too: vm.max_map_count consumed by the process's own mappings, and a
/// small RLIMIT_AS. The child checks contents, leases, counters and leaks itself; here we check that it
/// finished, said what happened, and that the refusals explain themselves.
/// </summary>
[Trait(Layer.Trait, Layer.Linux)]
public class ExhaustionTests
{
    private readonly ITestOutputHelper _output;

    public ExhaustionTests(ITestOutputHelper output) => _output = output;

    [LinuxMapCountFact] // skipped where vm.max_map_count is too large to eat: that would spend memory on VMAs, not test the pool
    public void At_vm_max_map_count_the_pool_serves_what_needs_no_mapping_refuses_the_rest_clearly_and_recovers()
    {
        long max = ProcessMemory.ReadMaxMapCount();
        var environment = new Dictionary<string, string>
        {
            // At the limit the runtime cannot map memory of its own: no W^X double mapping, no re-JIT later,
            // and glibc's malloc on the brk heap only, grown with 64 MiB to spare, so it needs no new mapping.
            ["DOTNET_EnableWriteXorExecute"] = "0",
            ["DOTNET_TieredCompilation"] = "0",
            ["MALLOC_ARENA_MAX"] = "1",
            ["MALLOC_TOP_PAD_"] = "67108864",
            ["MALLOC_TRIM_THRESHOLD_"] = "268435456",
        };
        // The runtime itself can still die at the limit now and then ("Out of memory." from its own
        // allocator, exit 134, before any check ran); that says nothing about the pool, so such a run is
        // repeated. A failed check (exit 1) or any other crash is not.
        int exitCode = 0;
        string output = "";
        for (int attempt = 1; attempt <= 3; attempt++)
        {
            (exitCode, output) = StressHostProcess.Run("mapcount", environment, TimeSpan.FromMinutes(2));
            _output.WriteLine($"attempt {attempt}: exit code {exitCode}");
            _output.WriteLine(output);
            bool runtimeDied = exitCode == 134 && output.Contains("Out of memory.") && !output.Contains("FAIL");
            if (!runtimeDied)
                break;
        }
        Assert.True(exitCode == 0, $"the child exited with {exitCode}:\n{output}");
        Assert.Contains("until mmap failed", output);
        Assert.Contains("rent from free space: served", output);
        Assert.Matches(@"grow 64 KiB → 128 KiB: moves failed [1-9]\d*, copied 1", output);
        Assert.Contains($"rent 16 MiB: refused: The pool could not map 16777216 bytes", output);
        Assert.Contains($"vm.max_map_count = {max}", output);
        Assert.Matches(@"the pool owns \d+ of them", output);
        Assert.Contains("grow 1 MiB → 64 MiB: refused", output);
        Assert.Contains("after release: rent 16 MiB served, grow to 64 MiB served", output);
        Assert.Contains("after Trim: 0 holes or foreign marks left in the pool's reservations", output);
        Assert.Contains("after Dispose: 0 mappings left inside the pool's ranges", output);
        Assert.EndsWith("PASS", output.TrimEnd());
    }

    [LinuxMapCountFact]
    public void Near_vm_max_map_count_the_pool_leaves_the_mapping_reserve_to_the_runtime_with_WX_on()
    {
        // The runtime at its defaults (W^X on, tiered compilation on): what production runs, and what died here
        // (SIGSEGV, or "Failed to create RW mapping for RX memory") when the pool took the last mappings.
        // Set, not inherited: a DOTNET_EnableWriteXorExecute=0 in the test host's environment must not turn W^X off here.
        (int exitCode, string output) = StressHostProcess.Run("headroom", new Dictionary<string, string>
        {
            ["DOTNET_EnableWriteXorExecute"] = "1",
            ["DOTNET_TieredCompilation"] = "1",
        }, TimeSpan.FromMinutes(3));
        _output.WriteLine(output);
        Assert.True(exitCode == 0, $"the child exited with {exitCode}:\n{output}");
        Assert.Matches(@"W\^X on: [1-9]\d* doublemapper mappings", output);
        Assert.Matches(@"headroom \d+: \d+ operations served, [1-9]\d* refused cleanly", output);
        Assert.Contains("JIT of a new instantiation", output);
        Assert.Contains("a thread and 100 MiB of heap: done", output);
        Assert.Contains("after release: 256 MiB rented and grown to 1 GiB without a copy", output);
        Assert.EndsWith("PASS", output.TrimEnd());
    }

    [LinuxFact]
    public void Under_a_small_address_space_limit_the_pool_refuses_clearly_keeps_buffers_and_recovers()
    {
        (int exitCode, string output) = StressHostProcess.Run("addressspace", new Dictionary<string, string>
        {
            // Keep the GC's own reservation small, so the limit bites the pool and not the runtime.
            ["DOTNET_GCHeapHardLimit"] = "0x10000000",
        }, TimeSpan.FromMinutes(2));
        _output.WriteLine(output);
        Assert.True(exitCode == 0, $"the child exited with {exitCode}:\n{output}");
        Assert.Matches(@"rented \d+ × 64 MiB before a refusal: The pool could not map 67108864 bytes of address space \(ENOMEM\)", output);
        Assert.Matches(@"the process's address space is limited to \d+ bytes \(RLIMIT_AS, ulimit -v\) and the pool has \d+ of them mapped", output);
        Assert.Contains("growth 64 MiB → 64 GiB refused", output);
        Assert.Contains("stream write at 64 GiB refused: the stream kept its 3 bytes", output);
        Assert.Contains("a 64 MiB rent and a growth to 128 MiB were served", output);
        Assert.EndsWith("PASS", output.TrimEnd());
    }
}
