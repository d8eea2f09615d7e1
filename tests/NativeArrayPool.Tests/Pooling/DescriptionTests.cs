using NativeBuffers.Pooling;

namespace NativeBuffers.Tests.Pooling;

/// <summary>What pools, options and leases say about themselves in logs, debuggers and argument errors.</summary>
public class DescriptionTests
{
    [Fact]
    public void A_lease_ended_by_its_pools_disposal_does_not_claim_it_was_returned()
    {
        var pool = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> returned = pool.Rent(100);
        NativeBuffer<byte> orphan = pool.Rent(100);
        pool.Return(returned);
        Assert.EndsWith("(returned)", returned.ToString());

        pool.Dispose();

        Assert.DoesNotContain("returned", orphan.ToString());
        Assert.Contains("pool disposed", orphan.ToString());
        var e = Assert.Throws<ObjectDisposedException>(() => orphan.AsSpan());
        Assert.Contains("pool that rented this buffer was disposed", e.Message);
        Assert.DoesNotContain("returned", e.Message);
        orphan.Dispose();
    }

    [Fact]
    public void An_owner_of_a_disposed_NativeMemoryPool_says_the_pool_was_disposed()
    {
        var pool = new NativeMemoryPool();
        System.Buffers.IMemoryOwner<byte> owner = pool.Rent(100);
        Memory<byte> memory = owner.Memory;
        pool.Dispose();

        Assert.Contains("pool disposed", owner.ToString());
        var e = Assert.Throws<ObjectDisposedException>(() => memory.Span.Length);
        Assert.Contains("pool was disposed", e.Message);
        owner.Dispose();
        var after = Assert.Throws<ObjectDisposedException>(() => memory.Span.Length);
        Assert.Contains("owner was disposed", after.Message);
    }

    public static TheoryData<string, Func<ArgumentOutOfRangeException>> OutOfRange => new()
    {
        { "-1", () => Assert.Throws<ArgumentOutOfRangeException>(() => NativeArrayPool<byte>.Shared.Rent(-1)) },
        { (1L << 50).ToString(), () => Assert.Throws<ArgumentOutOfRangeException>(() => NativeArrayPool<byte>.Shared.Rent(1L << 50)) },
        { "-7", () => Assert.Throws<ArgumentOutOfRangeException>(() => new NativeBufferWriter<byte>().GetSpan(-7)) },
        { "-5", () => Assert.Throws<ArgumentOutOfRangeException>(() => new NativeMemoryOwnerProbe().RentMemoryPool(-5)) },
        { "99", () => Assert.Throws<ArgumentOutOfRangeException>(() => NativeArrayPool<byte>.Shared.Rent(16)[99]) },
        { "3", () => Assert.Throws<ArgumentOutOfRangeException>(() => { using var s = new NativeMemoryStream(); s.SetLength(10); s.Capacity = 3; }) },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public void ArgumentOutOfRange_messages_state_the_value_once(string value, Func<ArgumentOutOfRangeException> act)
    {
        ArgumentOutOfRangeException e = act();

        Assert.Equal(1, Occurrences(e.Message, value));
    }

    [Fact]
    public void Window_errors_show_the_window_without_an_actual_value()
    {
        NativeBuffer<byte> buffer = NativeArrayPool<byte>.Shared.Rent(64);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AsSpan(70, 3));
        NativeArrayPool<byte>.Shared.Return(buffer);

        Assert.Contains("[70, 70+3)", e.Message);
        Assert.Equal(1, Occurrences(e.Message, "70+"));
        Assert.Null(e.ActualValue);
    }

    [Fact]
    public void Pools_describe_their_name_backend_and_settings()
    {
        using var pool = NativeArrayPool<int>.Create(new NativePoolOptions
        {
            Name = "batch", Backend = MemoryBackend.Portable, ThreadCaches = false, ZeroOnRent = true, MappingBudget = 321, MappingReserve = 17,
        });
        using var guarded = new NativeMemoryPool(new NativePoolOptions { Name = "debug", Guarded = true, Backend = MemoryBackend.Portable });

        string text = pool.ToString();
        string guardedText = guarded.ToString();

        Assert.Equal("NativeArrayPool<Int32>(\"batch\": portable, no thread caches, zero on rent, mapping budget 321, reserve 17)", text);
        Assert.StartsWith("NativeMemoryPool(\"debug\": portable, no thread caches, guarded, mapping budget", guardedText);
        Assert.EndsWith(", an owner per rent)", guardedText);
        Assert.Contains("\"shared\"", NativeArrayPool<byte>.Shared.ToString());
        pool.Dispose();
        Assert.EndsWith(", disposed)", pool.ToString());
    }

    [Fact]
    public void Options_show_every_setting()
    {
        var options = new NativePoolOptions { Name = "ingest", Guarded = true, QuarantineBytes = 1 << 20, MappingReserve = 99 };

        string text = options.ToString();

        Assert.StartsWith("NativePoolOptions { Name = ingest, Backend = Automatic, ThreadCaches = True, Guarded = True, QuarantineBytes = 1048576,", text);
        Assert.Contains("MappingBudget = automatic", text);
        Assert.Contains("MappingReserve = 99", text);
        Assert.Contains("ZeroOnRent = False", text);
        Assert.DoesNotContain("QuarantineBytes", new NativePoolOptions().ToString());
    }

    private static int Occurrences(string text, string value)
    {
        int count = 0;
        for (int i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + value.Length, StringComparison.Ordinal))
            count++;
        return count;
    }

    private sealed class NativeMemoryOwnerProbe
    {
        public void RentMemoryPool(int size) => NativeMemoryPool.Shared.Rent(size).Dispose();
    }
}
