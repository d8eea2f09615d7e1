using System.Diagnostics;
using System.Reflection;
using NativeBuffers.Os;
using NativeBuffers.Pooling;
using NativeBuffers.Tests.Support;

// These tests write through spans their leases no longer own, on purpose: guarded mode must catch at run time what
// NAP003 (docs/analyzers.md) warns about at compile time.
#pragma warning disable NAP003

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// Guarded mode: stale writes into returned buffers are found by the pattern check (in process) or fault at the
/// write (child process), and correct use never trips it.
/// </summary>
public class LeaseGuardTests
{
    private static NativeArrayPool<byte> CreateGuarded(MemoryBackend backend = MemoryBackend.Automatic, bool stacks = false,
        long quarantineBytes = NativePoolOptions.DefaultQuarantineBytes, int mappingBudget = 0, GrowthPaths paths = GrowthPaths.All) =>
        NativeArrayPool<byte>.Create(new NativePoolOptions
        {
            Guarded = true,
            CaptureRentStackTraces = stacks,
            Backend = backend,
            QuarantineBytes = quarantineBytes,
            MappingBudget = mappingBudget,
            GrowthPaths = paths,
            IdleTrimDelay = Timeout.InfiniteTimeSpan,
            TrimOnMemoryPressure = false,
        });

    [Theory]
    [InlineData(MemoryBackend.Automatic, 100)]
    [InlineData(MemoryBackend.Portable, 100)]
    [InlineData(MemoryBackend.Portable, 1 << 20)] // no mprotect on the portable layer: large buffers are poisoned too
    public void A_stale_write_is_reported_when_the_buffer_leaves_the_quarantine_with_what_and_where(MemoryBackend backend, int size)
    {
        using NativeArrayPool<byte> pool = CreateGuarded(backend, stacks: true);
        NativeBuffer<byte> buffer = pool.Rent(size);
        Span<byte> stale = buffer.AsSpan();
        pool.Return(buffer);

        stale[size / 2] = 0x42;
        NativeBuffer<byte> other = pool.Rent(size); // never the quarantined buffer, so nothing to report yet
        var e = Assert.Throws<StaleWriteException>(() => pool.Trim());

        Assert.Equal(size / 2, e.Offset);
        Assert.Equal(0x42, e.Found);
        Assert.Equal(0xDB, e.Expected);
        Assert.Equal(buffer.Length, e.BufferBytes);
        Assert.Contains("written to after it was returned", e.Message);
        Assert.Contains(nameof(A_stale_write_is_reported_when_the_buffer_leaves_the_quarantine_with_what_and_where), e.RentStackTrace);
        Assert.IsAssignableFrom<InvalidOperationException>(e);
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(1, stats.StaleWritesDetected);
        Assert.Equal(0, stats.QuarantinedBuffers);
        // The pool keeps serving, and the corrupted memory went back to the arena.
        pool.Return(other);
        NativeBuffer<byte> next = pool.Rent(size);
        next.AsSpan().Fill(1);
        pool.Return(next);
        Assert.Null(pool.Core.Arena.Validate());
    }

    [Theory]
    [InlineData(MemoryBackend.Automatic, 100)]
    [InlineData(MemoryBackend.Automatic, 8192)]
    [InlineData(MemoryBackend.Automatic, 1 << 20)]
    [InlineData(MemoryBackend.Portable, 100)]
    [InlineData(MemoryBackend.Portable, 1 << 20)]
    public void A_returned_buffer_is_not_rented_again_while_it_is_in_quarantine(MemoryBackend backend, int size)
    {
        using NativeArrayPool<byte> pool = CreateGuarded(backend);
        NativeBuffer<byte> buffer = pool.Rent(size);
        nint address = buffer._allocation!.Address;
        pool.Return(buffer);

        // Rent the size again and again: none of them may be the quarantined buffer, or a stale write reaches a tenant.
        var rented = Enumerable.Range(0, 8).Select(_ => pool.Rent(size)).ToList();

        Assert.DoesNotContain(address, rented.Select(b => b._allocation!.Address));
        Assert.Equal(1, pool.GetStatistics().QuarantinedBuffers);
        foreach (NativeBuffer<byte> b in rented)
            pool.Return(b);
        Assert.Equal(9, pool.GetStatistics().QuarantinedBuffers);
        Assert.Null(pool.Core.Arena.Validate());
    }

    [Fact]
    public void Correct_use_never_reports_and_contents_are_the_tenants()
    {
        using NativeArrayPool<byte> pool = CreateGuarded();
        var random = new Random(6);
        var live = new List<(NativeBuffer<byte> Buffer, byte Fill)>();
        for (int step = 0; step < 1200; step++)
        {
            if (live.Count > 0 && random.Next(3) == 0)
            {
                int i = random.Next(live.Count);
                (NativeBuffer<byte> buffer, byte fill) = live[i];
                Assert.True(buffer.AsSpan().IndexOfAnyExcept(fill) < 0);
                pool.Return(buffer);
                live.RemoveAt(i);
            }
            else
            {
                NativeBuffer<byte> buffer = pool.Rent(random.Next(3) switch { 0 => random.Next(1, 4000), 1 => random.Next(4000, 60_000), _ => random.Next(60_000, 300_000) });
                byte fill = (byte)random.Next(256);
                buffer.AsSpan().Fill(fill);
                live.Add((buffer, fill));
            }
        }
        foreach ((NativeBuffer<byte> buffer, _) in live)
            pool.Return(buffer);
        pool.Trim(); // checks everything in the quarantine

        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(0, stats.StaleWritesDetected);
        Assert.Equal(0, stats.QuarantinedBuffers);
        Assert.Null(pool.Core.Arena.Validate());
    }

    [Fact]
    public void Trim_finds_a_stale_write_still_in_quarantine_and_completes()
    {
        using NativeArrayPool<byte> pool = CreateGuarded();
        NativeBuffer<byte> buffer = pool.Rent(500);
        Span<byte> stale = buffer.AsSpan();
        pool.Return(buffer);
        stale[0] = 0;

        var e = Assert.Throws<StaleWriteException>(() => pool.Trim());

        Assert.Equal(0, e.Offset);
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(1, stats.Trims);
        Assert.Equal(0, stats.QuarantinedBuffers);
        pool.Trim(); // nothing left to report
    }

    [Fact]
    public void The_oldest_buffer_leaves_first_when_the_budget_is_exceeded_and_its_stale_write_is_reported_then()
    {
        using NativeArrayPool<byte> pool = CreateGuarded(quarantineBytes: 1024);
        NativeBuffer<byte> victim = pool.Rent(256);
        nint victimAddress = victim._allocation!.Address;
        Span<byte> stale = victim.AsSpan();
        pool.Return(victim);
        stale[255] = 1;

        // Three more of 256 bytes fill the 1 KiB budget exactly: the victim stays.
        var others = Enumerable.Range(0, 4).Select(_ => pool.Rent(256)).ToList();
        Assert.DoesNotContain(victimAddress, others.Select(b => b._allocation!.Address));
        for (int i = 0; i < 3; i++)
            pool.Return(others[i]);
        Assert.Equal((4, 1024L), (pool.GetStatistics().QuarantinedBuffers, pool.GetStatistics().QuarantinedBytes));
        Assert.Equal(0, pool.GetStatistics().StaleWritesDetected);

        // The fifth exceeds it: the oldest, the victim, leaves, is checked, and that return reports it.
        var e = Assert.Throws<StaleWriteException>(() => pool.Return(others[3]));

        Assert.Equal(255, e.Offset);
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(1, stats.StaleWritesDetected);
        Assert.Equal((4, 1024L), (stats.QuarantinedBuffers, stats.QuarantinedBytes)); // the return itself completed
        Assert.Equal(stats.Rents, stats.Returns);
    }

    [Fact]
    public void The_newest_buffer_stays_even_when_it_alone_exceeds_the_budget()
    {
        using NativeArrayPool<byte> pool = CreateGuarded(quarantineBytes: 0);
        NativeBuffer<byte> first = pool.Rent(5000);
        nint address = first._allocation!.Address;
        pool.Return(first);
        Assert.Equal(1, pool.GetStatistics().QuarantinedBuffers);
        NativeBuffer<byte> second = pool.Rent(5000);
        Assert.NotEqual(address, second._allocation!.Address);

        pool.Return(second); // pushes the first out: its memory may be rented again
        Assert.Equal(1, pool.GetStatistics().QuarantinedBuffers);
        NativeBuffer<byte> third = pool.Rent(5000);
        Assert.Equal(address, third._allocation!.Address);
        pool.Return(third);
        Assert.Null(pool.Core.Arena.Validate());
    }

    [Theory]
    [InlineData(100, 3000)]        // slot to slot: the old slot is poisoned
    [InlineData(8192, 64 * 1024)]  // block to block: the old block is protected on Linux
    [InlineData(64 * 1024, 100)]   // shrinking into a slot copies too
    public void What_a_copying_resize_leaves_behind_waits_in_the_quarantine(int from, int to)
    {
        using NativeArrayPool<byte> pool = CreateGuarded(paths: GrowthPaths.Copy);
        NativeBuffer<byte> buffer = pool.Rent(from);
        nint old = buffer._allocation!.Address;
        Span<byte> stale = buffer.AsSpan();
        buffer.AsSpan().Fill(7);

        pool.Resize(ref buffer, to);

        Assert.NotEqual(old, buffer._allocation!.Address);
        Assert.True(buffer.AsSpan(0, Math.Min(from, to)).IndexOfAnyExcept((byte)7) < 0);
        Assert.Equal(1, pool.GetStatistics().QuarantinedBuffers);
        NativeBuffer<byte> next = pool.Rent(from);
        Assert.NotEqual(old, next._allocation!.Address);
        pool.Return(next);
        if (pool.GetStatistics().ProtectedBuffers == 0)
        {
            stale[0] = 1; // poisoned, not protected: the write lands and is reported when the range leaves
            Assert.Throws<StaleWriteException>(() => pool.Trim());
        }
        pool.Return(buffer);
        Assert.Null(pool.Core.Arena.Validate());
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [LinuxTheory]
    [InlineData(GrowthPaths.RemapFixed)]
    [InlineData(GrowthPaths.Remap)]
    public void The_range_a_page_move_vacated_is_protected_in_the_quarantine_until_it_leaves(GrowthPaths path)
    {
        using NativeArrayPool<byte> pool = CreateGuarded(MemoryBackend.Linux, paths: path);
        NativeBuffer<byte> buffer = pool.Rent(2 << 20);
        nint old = buffer._allocation!.Address;
        buffer.AsSpan().Fill(7);
        int modelBefore = pool.GetStatistics().KernelMappings;

        pool.Resize(ref buffer, 4 << 20);

        NativePoolStatistics stats = pool.GetStatistics();
        Assert.NotEqual(old, buffer._allocation!.Address);
        Assert.True(buffer.AsSpan(0, 2 << 20).IndexOfAnyExcept((byte)7) < 0);
        Assert.Equal((1, 1, 2L << 20), (stats.QuarantinedBuffers, stats.ProtectedBuffers, stats.QuarantinedBytes));
        Assert.Equal("---p", ResidentMemory.PermissionsAt(old));
        NativeBuffer<byte> next = pool.Rent(2 << 20);
        Assert.NotEqual(old, next._allocation!.Address);
        Assert.True(stats.KernelMappings >= modelBefore + LeaseGuard.MappingsPerProtection, "the protection is charged to the mapping model");

        pool.Trim();
        Assert.Equal("rw-p", ResidentMemory.PermissionsAt(old));
        Assert.Equal(0, pool.GetStatistics().QuarantinedBuffers);
        pool.Return(next);
        pool.Return(buffer);
        Assert.Null(pool.Core.Arena.Validate());
    }

    [Fact]
    public void A_stale_write_found_while_a_resize_quarantines_is_reported_by_the_next_return_not_the_resize()
    {
        using NativeArrayPool<byte> pool = CreateGuarded(quarantineBytes: 256, paths: GrowthPaths.Copy);
        NativeBuffer<byte> victim = pool.Rent(256);
        Span<byte> stale = victim.AsSpan();
        pool.Return(victim);
        stale[3] = 9;
        NativeBuffer<byte> buffer = pool.Rent(100);
        buffer.AsSpan().Fill(4);

        pool.Resize(ref buffer, 3000); // the old slot enters and pushes the victim out: the resize still succeeds

        Assert.True(buffer.AsSpan(0, 100).IndexOfAnyExcept((byte)4) < 0);
        Assert.Equal(1, pool.GetStatistics().StaleWritesDetected);
        NativeBuffer<byte> other = pool.Rent(64);
        var e = Assert.Throws<StaleWriteException>(() => pool.Return(other));
        Assert.Equal(3, e.Offset);
        pool.Return(buffer); // reported once
        Assert.Null(pool.Core.Arena.Validate());
    }

    [Theory]
    [InlineData(MemoryBackend.Automatic)]
    [InlineData(MemoryBackend.Portable)]
    public void Concurrent_rents_returns_and_resizes_keep_every_tenants_contents_and_the_arena_valid(MemoryBackend backend)
    {
        using NativeArrayPool<byte> pool = CreateGuarded(backend, quarantineBytes: 4 << 20, mappingBudget: 200);
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, worker =>
        {
            var random = new Random(100 + worker);
            var live = new List<(NativeBuffer<byte> Buffer, byte Fill)>();
            for (int step = 0; step < 1500; step++)
            {
                int action = random.Next(4);
                if (live.Count > 0 && action == 0)
                {
                    int i = random.Next(live.Count);
                    (NativeBuffer<byte> buffer, byte fill) = live[i];
                    Assert.True(buffer.AsSpan().IndexOfAnyExcept(fill) < 0, "a tenant's bytes changed");
                    pool.Return(buffer);
                    live.RemoveAt(i);
                }
                else if (live.Count > 0 && action == 1)
                {
                    int i = random.Next(live.Count);
                    (NativeBuffer<byte> buffer, byte fill) = live[i];
                    long kept = buffer.Length;
                    pool.Resize(ref buffer, random.Next(1, 600_000));
                    Assert.True(buffer.AsSpan(0, (int)Math.Min(kept, buffer.Length)).IndexOfAnyExcept(fill) < 0, "resize lost contents");
                    buffer.AsSpan().Fill(fill);
                    live[i] = (buffer, fill);
                }
                else
                {
                    NativeBuffer<byte> buffer = pool.Rent(random.Next(1, 300_000));
                    byte fill = (byte)random.Next(256);
                    buffer.AsSpan().Fill(fill);
                    live.Add((buffer, fill));
                }
            }
            foreach ((NativeBuffer<byte> buffer, _) in live)
                pool.Return(buffer);
        });
        pool.Trim();

        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(0, stats.StaleWritesDetected);
        Assert.Equal((0, 0, 0L), (stats.QuarantinedBuffers, stats.ProtectedBuffers, stats.QuarantinedBytes));
        Assert.Null(pool.Core.Arena.Validate());
    }

    [Fact]
    public void A_shrinking_block_keeps_its_pages_in_guarded_mode()
    {
        using NativeArrayPool<byte> pool = CreateGuarded();
        NativeBuffer<byte> buffer = pool.Rent(64 * 1024);
        nint address = buffer._allocation!.Address;
        pool.Resize(ref buffer, 8192);
        Assert.Equal(address, buffer._allocation!.Address);
        Assert.Equal(64 * 1024, buffer.Length); // nothing was cut off under a stale pointer
        Assert.Equal(0, pool.GetStatistics().QuarantinedBuffers);
        pool.Return(buffer);
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [LinuxFact]
    public void Returned_blocks_are_inaccessible_until_they_leave_the_quarantine()
    {
        using NativeArrayPool<byte> pool = CreateGuarded(MemoryBackend.Linux);
        NativeBuffer<byte> pin = pool.Rent(1 << 20); // keeps the reservation mapped through Trim
        NativeBuffer<byte> buffer = pool.Rent(4096);  // a page is enough to be protected
        nint address = buffer._allocation!.Address;
        buffer.AsSpan().Fill(3);
        Assert.Equal("rw-p", ResidentMemory.PermissionsAt(address));

        pool.Return(buffer);
        Assert.Equal("---p", ResidentMemory.PermissionsAt(address));
        Assert.Equal(1, pool.GetStatistics().ProtectedBuffers);

        NativeBuffer<byte> again = pool.Rent(4096);
        Assert.NotEqual(address, again._allocation!.Address);
        Assert.Equal("---p", ResidentMemory.PermissionsAt(address));
        pool.Return(again);
        pool.Trim(); // unprotects before the arena gets the memory back
        Assert.Equal("rw-p", ResidentMemory.PermissionsAt(address));
        Assert.Equal(0, pool.GetStatistics().ProtectedBuffers);
        Assert.Null(pool.Core.Arena.Validate());
        pool.Return(pin);
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [LinuxFact]
    public void A_protected_buffer_is_charged_two_kernel_mappings_and_costs_at_most_that()
    {
        using NativeArrayPool<byte> pool = CreateGuarded(MemoryBackend.Linux);
        var buffers = Enumerable.Range(0, 3).Select(_ => pool.Rent(1 << 20)).ToList();
        var ranges = pool.Core.Arena.MappedRanges();
        int before = ProcSelf.CountMappingsWithin(ranges);
        int modelBefore = pool.GetStatistics().KernelMappings;

        pool.Return(buffers[1]); // the middle one: protecting it splits its reservation's mapping in three
        int protectedCount = ProcSelf.CountMappingsWithin(ranges);
        int modelProtected = pool.GetStatistics().KernelMappings;
        pool.Trim();
        int released = ProcSelf.CountMappingsWithin(ranges);

        Assert.InRange(protectedCount, before + 1, before + LeaseGuard.MappingsPerProtection);
        Assert.Equal(modelBefore + LeaseGuard.MappingsPerProtection, modelProtected);
        Assert.Equal(before, released); // unprotected pages merge back into the reservation's mapping
        Assert.Equal(modelBefore, pool.GetStatistics().KernelMappings);
        pool.Return(buffers[0]);
        pool.Return(buffers[2]);
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [Fact]
    public void Protection_takes_at_most_half_the_mapping_budget_the_rest_is_poisoned()
    {
        using NativeArrayPool<byte> pool = CreateGuarded(MemoryBackend.Linux, mappingBudget: 40);
        NativeBuffer<byte> pin = pool.Rent(64 * 1024); // keeps the reservation mapped through Trim
        var buffers = Enumerable.Range(0, 15).Select(_ => pool.Rent(64 * 1024)).ToList();
        int modelRented = pool.GetStatistics().KernelMappings;
        foreach (NativeBuffer<byte> buffer in buffers)
            pool.Return(buffer);

        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(40 / 2 / LeaseGuard.MappingsPerProtection, stats.ProtectedBuffers);
        Assert.Equal(15, stats.QuarantinedBuffers);
        Assert.Equal(modelRented + 40 / 2, stats.KernelMappings);
        Assert.True(stats.KernelMappings <= stats.MappingBudget);
        pool.Trim();
        Assert.Equal(0, pool.GetStatistics().ProtectedBuffers);
        Assert.Equal(modelRented, pool.GetStatistics().KernelMappings);
        pool.Return(pin);
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [LinuxFact]
    public void A_failing_mprotect_falls_back_to_the_pattern_and_a_failing_unprotect_never_hands_out_inaccessible_memory()
    {
        NativeArrayPool<byte> Guarded(FaultInjectingVirtualMemory os) => NativeArrayPool<byte>.Create(new NativePoolOptions
        {
            Guarded = true,
            VirtualMemoryOverride = os,
            IdleTrimDelay = Timeout.InfiniteTimeSpan,
            TrimOnMemoryPressure = false,
        });

        // Protecting fails (ENOMEM, as at the map-count limit): the buffer is poisoned instead, and a stale write is still caught.
        var protectFails = FaultInjectingVirtualMemory.FailAt(LinuxVirtualMemory.Instance, Primitive.Protect, 0, OsError.OutOfMemory);
        using (NativeArrayPool<byte> pool = Guarded(protectFails))
        {
            NativeBuffer<byte> buffer = pool.Rent(1 << 20);
            nint address = buffer._allocation!.Address;
            int model = pool.GetStatistics().KernelMappings;
            pool.Return(buffer);
            Assert.Equal(1, protectFails.Failures(Primitive.Protect));
            Assert.Equal("rw-p", ResidentMemory.PermissionsAt(address));
            Assert.Equal(0, pool.GetStatistics().ProtectedBuffers);
            Assert.Equal(1, pool.GetStatistics().QuarantinedBuffers);
            Assert.Equal(model, pool.GetStatistics().KernelMappings); // the charge was given back
            MemoryAccess.AsSpan<byte>(address + 100, 1)[0] = 42; // a stale write through a kept pointer
            Assert.Throws<StaleWriteException>(() => pool.Trim());
            Assert.Null(pool.Core.Arena.Validate());
        }

        // Protecting works, making it accessible again fails: the buffer stays in quarantine, and no rent gets it.
        var unprotectFails = FaultInjectingVirtualMemory.FailAt(LinuxVirtualMemory.Instance, Primitive.Protect, 1, OsError.OutOfMemory);
        using (NativeArrayPool<byte> pool = Guarded(unprotectFails))
        {
            NativeBuffer<byte> second = pool.Rent(1 << 20);
            NativeBuffer<byte> first = pool.Rent(1 << 20);
            nint address = first._allocation!.Address;
            pool.Return(first);
            Assert.Equal("---p", ResidentMemory.PermissionsAt(address));

            pool.Trim(); // the unprotect fails
            Assert.Equal(1, unprotectFails.Failures(Primitive.Protect));
            Assert.Equal("---p", ResidentMemory.PermissionsAt(address));
            Assert.Equal(1, pool.GetStatistics().ProtectedBuffers);
            NativeBuffer<byte> third = pool.Rent(1 << 20);
            Assert.NotEqual(address, third._allocation!.Address);
            third.AsSpan().Fill(5);
            second.AsSpan().Fill(5);

            pool.Trim(); // the next unprotect works: the quarantine empties into the arena
            Assert.Equal(0, pool.GetStatistics().ProtectedBuffers);
            Assert.Equal("rw-p", ResidentMemory.PermissionsAt(address));
            Assert.True(second.AsSpan().IndexOfAnyExcept((byte)5) < 0);
            pool.Return(second);
            pool.Return(third);
            Assert.Null(pool.Core.Arena.Validate());
        }
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [LinuxTheory]
    [InlineData("span")]
    [InlineData("pointer")]
    [InlineData("memory")] // NativeMemoryPool: Memory<byte>.Span throws, the pointer its Pin gave faults
    public void A_stale_write_to_a_protected_buffer_faults_at_the_write_after_the_size_is_rented_again(string mode)
    {
        (int exitCode, string stdout, string stderr) = RunChild(mode);

        AssertFaultedAtTheWrite(exitCode, stdout, stderr);
        Assert.Contains("PROTECTED=1", stdout);
        if (mode == "memory")
            Assert.Contains("MEMORY-SPAN-THREW", stdout);
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [LinuxTheory]
    [InlineData("resize-copy", "copy")]
    [InlineData("resize-remapfixed", "remapfixed")]
    [InlineData("resize-remap", "remap")]
    public void A_stale_write_to_the_range_a_resize_vacated_faults_at_the_write(string mode, string path)
    {
        (int exitCode, string stdout, string stderr) = RunChild(mode);

        Assert.Contains("MOVED=1", stdout);
        Assert.Contains($"PATH={path}", stdout);
        AssertFaultedAtTheWrite(exitCode, stdout, stderr);
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [LinuxFact]
    public void The_child_survives_the_same_write_into_a_rented_buffer()
    {
        (int exitCode, string stdout, string stderr) = RunChild("control");

        Assert.True(exitCode == 0, $"exit {exitCode}; stderr: {stderr}");
        Assert.Contains("AFTER-WRITE", stdout);
    }

    private static void AssertFaultedAtTheWrite(int exitCode, string stdout, string stderr)
    {
        Assert.Contains("REUSED=0", stdout); // the rent of the same size got other memory
        Assert.True(exitCode is 134 or 139, $"expected a crash (SIGABRT after AccessViolationException, or SIGSEGV), got exit {exitCode}. stdout: {stdout} stderr: {stderr}");
        Assert.Contains("BEFORE-WRITE", stdout);
        Assert.DoesNotContain("AFTER-WRITE", stdout); // it died at the write, not later
        if (exitCode == 134)
            Assert.Contains("AccessViolationException", stderr);
    }

    private static (int ExitCode, string Stdout, string Stderr) RunChild(string mode)
    {
        string path = typeof(LeaseGuardTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "GuardedCrashPath").Value!;
        Assert.True(File.Exists(path), $"child not built at {path}");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(path);
        start.ArgumentList.Add(mode);
        // No crash dump: the crash is the expected outcome.
        start.Environment["DOTNET_DbgEnableMiniDump"] = "0";
        using Process child = Process.Start(start)!;
        Task<string> stdout = child.StandardOutput.ReadToEndAsync();
        Task<string> stderr = child.StandardError.ReadToEndAsync();
        Assert.True(child.WaitForExit(60_000), "child did not finish within a minute");
        child.WaitForExit();
        return (child.ExitCode, stdout.Result, stderr.Result);
    }
}
