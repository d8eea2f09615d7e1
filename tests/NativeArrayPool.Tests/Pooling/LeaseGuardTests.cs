using System.Diagnostics;
using System.Reflection;
using NativeBuffers.Os;
using NativeBuffers.Pooling;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// Guarded mode: stale writes into returned buffers are found by the pattern check (in process) or fault at the
/// write (child process), and correct use never trips it.
/// </summary>
public class LeaseGuardTests
{
    private static NativeArrayPool<byte> CreateGuarded(MemoryBackend backend = MemoryBackend.Automatic, bool stacks = false) =>
        NativeArrayPool<byte>.Create(new NativePoolOptions
        {
            Guarded = true,
            CaptureRentStackTraces = stacks,
            Backend = backend,
            IdleTrimDelay = Timeout.InfiniteTimeSpan,
            TrimOnMemoryPressure = false,
        });

    [Theory]
    [InlineData(MemoryBackend.Automatic, 100)]
    [InlineData(MemoryBackend.Automatic, 8192)]
    [InlineData(MemoryBackend.Portable, 100)]
    [InlineData(MemoryBackend.Portable, 1 << 20)] // no mprotect on the portable layer: large buffers are poisoned too
    public void A_stale_write_is_reported_on_the_next_rent_with_what_and_where(MemoryBackend backend, int size)
    {
        using NativeArrayPool<byte> pool = CreateGuarded(backend, stacks: true);
        NativeBuffer<byte> buffer = pool.Rent(size);
        Span<byte> stale = buffer.AsSpan();
        pool.Return(buffer);

        stale[size / 2] = 0x42;
        var e = Assert.Throws<StaleWriteException>(() => pool.Rent(size));

        Assert.Equal(size / 2, e.Offset);
        Assert.Equal(0x42, e.Found);
        Assert.Equal(0xDB, e.Expected);
        Assert.Equal(buffer.Length, e.BufferBytes);
        Assert.Contains("written to after it was returned", e.Message);
        Assert.Contains(nameof(A_stale_write_is_reported_on_the_next_rent_with_what_and_where), e.RentStackTrace);
        Assert.IsAssignableFrom<InvalidOperationException>(e);
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(1, stats.StaleWritesDetected);
        Assert.Equal(stats.Rents, stats.Returns); // the failed rent handed nothing out
        // The pool keeps serving, and the corrupted memory went back to the arena, not to a tenant as "clean".
        NativeBuffer<byte> next = pool.Rent(size);
        next.AsSpan().Fill(1);
        pool.Return(next);
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
    public void A_stale_write_is_reported_when_the_buffer_is_evicted_from_the_quarantine()
    {
        using NativeArrayPool<byte> pool = CreateGuarded();
        NativeBuffer<byte> victim = pool.Rent(64);
        Span<byte> stale = victim.AsSpan();
        pool.Return(victim);
        stale[63] = 1;

        // Other buffers fill the quarantine until the oldest entry, the victim, is pushed out and checked.
        var others = Enumerable.Range(0, LeaseGuard.MaxEntries).Select(_ => pool.Rent(200)).ToList();
        StaleWriteException? found = null;
        foreach (NativeBuffer<byte> other in others)
        {
            try { pool.Return(other); }
            catch (StaleWriteException e) { found ??= e; }
        }

        Assert.NotNull(found);
        Assert.Equal(63, found.Offset);
        Assert.Equal(1, pool.GetStatistics().StaleWritesDetected);
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [Fact]
    public void Large_returned_buffers_are_inaccessible_until_rented_again()
    {
        if (!ResidentMemory.IsAvailable)
            return; // needs /proc (Linux)
        using NativeArrayPool<byte> pool = CreateGuarded(MemoryBackend.Linux);
        NativeBuffer<byte> pin = pool.Rent(1 << 20); // keeps the reservation mapped through Trim
        NativeBuffer<byte> buffer = pool.Rent(1 << 20);
        nint address = buffer._allocation!.Address;
        buffer.AsSpan().Fill(3);
        Assert.Equal("rw-p", ResidentMemory.PermissionsAt(address));

        pool.Return(buffer);
        Assert.Equal("---p", ResidentMemory.PermissionsAt(address));
        Assert.Equal(1, pool.GetStatistics().ProtectedBuffers);

        NativeBuffer<byte> again = pool.Rent(1 << 20);
        Assert.Equal(address, again._allocation!.Address); // reused from the quarantine
        Assert.Equal("rw-p", ResidentMemory.PermissionsAt(address));
        again.AsSpan().Fill(4);
        Assert.Equal(0, pool.GetStatistics().ProtectedBuffers);
        pool.Return(again);
        pool.Trim(); // unprotects before the arena gets the memory back
        Assert.Equal("rw-p", ResidentMemory.PermissionsAt(address));
        Assert.Null(pool.Core.Arena.Validate());
        pool.Return(pin);
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [Fact]
    public void A_protected_buffer_costs_at_most_two_kernel_mappings_outside_the_model_until_reused()
    {
        if (!ResidentMemory.IsAvailable)
            return; // counts VMAs in /proc/self/maps (Linux)
        using NativeArrayPool<byte> pool = CreateGuarded(MemoryBackend.Linux);
        var buffers = Enumerable.Range(0, 3).Select(_ => pool.Rent(1 << 20)).ToList();
        var ranges = pool.Core.Arena.MappedRanges();
        int before = NativeBuffers.Os.ProcessMemory.CountMappingsWithin(ranges);
        int modelBefore = pool.GetStatistics().KernelMappings;

        pool.Return(buffers[1]); // the middle one: protecting it splits its reservation's mapping in three
        int protectedCount = NativeBuffers.Os.ProcessMemory.CountMappingsWithin(ranges);
        NativeBuffer<byte> again = pool.Rent(1 << 20);
        int reused = NativeBuffers.Os.ProcessMemory.CountMappingsWithin(ranges);

        Assert.InRange(protectedCount, before + 1, before + 2);
        Assert.Equal(before, reused); // unprotected pages merge back into the reservation's mapping
        Assert.Equal(modelBefore, pool.GetStatistics().KernelMappings); // protection is outside the model, as documented
        pool.Return(again);
        pool.Return(buffers[0]);
        pool.Return(buffers[2]);
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [Fact]
    public void At_most_MaxProtected_buffers_are_protected_the_rest_are_poisoned()
    {
        using NativeArrayPool<byte> pool = CreateGuarded(MemoryBackend.Linux);
        var buffers = Enumerable.Range(0, LeaseGuard.MaxProtected + 5).Select(_ => pool.Rent(64 * 1024)).ToList();
        foreach (NativeBuffer<byte> buffer in buffers)
            pool.Return(buffer);

        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(LeaseGuard.MaxProtected, stats.ProtectedBuffers);
        Assert.Equal(LeaseGuard.MaxProtected + 5, stats.QuarantinedBuffers);
        pool.Trim();
        Assert.Equal(0, pool.GetStatistics().ProtectedBuffers);
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [Fact]
    public void A_failing_mprotect_falls_back_to_the_pattern_and_a_failing_unprotect_never_hands_out_inaccessible_memory()
    {
        if (!ResidentMemory.IsAvailable)
            return; // reads page permissions from /proc/self/maps (Linux)
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
            pool.Return(buffer);
            Assert.Equal(1, protectFails.Failures(Primitive.Protect));
            Assert.Equal("rw-p", ResidentMemory.PermissionsAt(address));
            Assert.Equal(0, pool.GetStatistics().ProtectedBuffers);
            Assert.Equal(1, pool.GetStatistics().QuarantinedBuffers);
            MemoryAccess.AsSpan<byte>(address + 100, 1)[0] = 42; // a stale write through a kept pointer
            Assert.Throws<StaleWriteException>(() => pool.Rent(1 << 20));
            Assert.Null(pool.Core.Arena.Validate());
        }

        // Protecting works, making it accessible again fails: the buffer stays in quarantine and the rent gets other memory.
        var unprotectFails = FaultInjectingVirtualMemory.FailAt(LinuxVirtualMemory.Instance, Primitive.Protect, 1, OsError.OutOfMemory);
        using (NativeArrayPool<byte> pool = Guarded(unprotectFails))
        {
            NativeBuffer<byte> first = pool.Rent(1 << 20);
            nint address = first._allocation!.Address;
            pool.Return(first);
            Assert.Equal("---p", ResidentMemory.PermissionsAt(address));

            NativeBuffer<byte> second = pool.Rent(1 << 20);
            Assert.Equal(1, unprotectFails.Failures(Primitive.Protect));
            Assert.NotEqual(address, second._allocation!.Address);
            Assert.Equal("---p", ResidentMemory.PermissionsAt(address));
            Assert.Equal(1, pool.GetStatistics().ProtectedBuffers);
            second.AsSpan().Fill(5);

            pool.Trim(); // the next unprotect works: the quarantine empties into the arena
            Assert.Equal(0, pool.GetStatistics().ProtectedBuffers);
            Assert.Equal("rw-p", ResidentMemory.PermissionsAt(address));
            Assert.True(second.AsSpan().IndexOfAnyExcept((byte)5) < 0);
            pool.Return(second);
            Assert.Null(pool.Core.Arena.Validate());
        }
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [Theory]
    [InlineData("span")]
    [InlineData("pointer")]
    public void A_stale_write_to_a_protected_buffer_faults_at_the_write(string mode)
    {
        if (!OperatingSystem.IsLinux())
            return; // mprotect protection is Linux-only
        (int exitCode, string stdout, string stderr) = RunChild(mode);

        Assert.True(exitCode is 134 or 139, $"expected a crash (SIGABRT after AccessViolationException, or SIGSEGV), got exit {exitCode}. stderr: {stderr}");
        Assert.Contains("PROTECTED=1", stdout);
        Assert.Contains("BEFORE-WRITE", stdout);
        Assert.DoesNotContain("AFTER-WRITE", stdout); // it died at the write, not later
        if (exitCode == 134)
            Assert.Contains("AccessViolationException", stderr);
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [Fact]
    public void The_child_survives_the_same_write_into_a_rented_buffer()
    {
        if (!OperatingSystem.IsLinux())
            return; // mprotect protection is Linux-only
        (int exitCode, string stdout, string stderr) = RunChild("control");

        Assert.True(exitCode == 0, $"exit {exitCode}; stderr: {stderr}");
        Assert.Contains("AFTER-WRITE", stdout);
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
