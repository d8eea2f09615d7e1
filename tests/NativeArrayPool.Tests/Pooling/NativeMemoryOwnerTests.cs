using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// The lifetime of the owners <see cref="NativeMemoryPool.Rent"/> hands out, as a caller with the most common lifetime
/// bugs sees it: a second Dispose of an owner, and a <see cref="Memory{T}"/> kept past its owner's Dispose. Neither
/// may touch a later lease, in any pool a caller gets without asking for reused owners.
/// </summary>
public class NativeMemoryOwnerTests
{
    public static TheoryData<string> DefaultPools => new() { "Shared", "new()", "new(options)", "Guarded" };

    private static NativeMemoryPool Create(string kind) => kind switch
    {
        "Shared" => NativeMemoryPool.Shared, // disposing it does nothing, so the tests may dispose every pool alike
        "new()" => new NativeMemoryPool(),
        "new(options)" => new NativeMemoryPool(Quiet(new NativePoolOptions())),
        // A small quarantine, so that addresses do come back to later tenants within the tests' rounds.
        "Guarded" => new NativeMemoryPool(Quiet(new NativePoolOptions { Guarded = true, QuarantineBytes = 64 << 10 })),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    private static NativePoolOptions Quiet(NativePoolOptions options)
    {
        options.IdleTrimDelay = Timeout.InfiniteTimeSpan;
        options.TrimOnMemoryPressure = false;
        return options;
    }

    [Theory]
    [MemberData(nameof(DefaultPools))]
    public void Pools_made_without_asking_do_not_reuse_owners(string kind)
    {
        using NativeMemoryPool pool = Create(kind);
        Assert.False(pool.ReusesOwners);
    }

    [Theory]
    [MemberData(nameof(DefaultPools))]
    public void A_second_dispose_of_an_owner_does_not_end_the_lease_two_rents_later(string kind)
    {
        // The sequence from the attack: in a pool that alternated two owners per record, o3 was o1's object again.
        using NativeMemoryPool pool = Create(kind);
        IMemoryOwner<byte> o1 = pool.Rent(4096);
        o1.Dispose();
        IMemoryOwner<byte> o2 = pool.Rent(4096);
        o2.Dispose();
        IMemoryOwner<byte> o3 = pool.Rent(4096);
        o3.Memory.Span.Fill(0x33);

        o1.Dispose();
        o2.Dispose();

        Assert.Equal(4096, o3.Memory.Span.Length); // still leased
        IMemoryOwner<byte> o4 = pool.Rent(4096);
        o4.Memory.Span.Fill(0x44);
        Assert.NotEqual(AddressOf(o3), AddressOf(o4));
        Assert.True(o3.Memory.Span.IndexOfAnyExcept((byte)0x33) < 0, "o3's buffer was written by another tenant");
        o4.Dispose();
        o3.Dispose();
        Assert.Throws<ObjectDisposedException>(() => o3.Memory);
    }

    [Theory]
    [MemberData(nameof(DefaultPools))]
    public void Stale_owners_and_memory_never_reach_a_later_tenant_of_the_same_buffer(string kind)
    {
        using NativeMemoryPool pool = Create(kind);
        // Every earlier tenant of an address (the last few) is disposed again and its Memory used again while the
        // address has a new tenant; the new tenant must keep its lease and its contents, whatever the stale ones do.
        var stale = new Dictionary<nint, Queue<(IMemoryOwner<byte> Owner, Memory<byte> Memory)>>();
        int reachedAgain = 0;
        int rounds = kind == "Guarded" ? 3_000 : 10_000; // the guarded quarantine delays reuse; it is slower per rent
        for (int round = 0; round < rounds; round++)
        {
            IMemoryOwner<byte> current = pool.Rent(4096);
            Memory<byte> memory = current.Memory;
            byte fill = (byte)(round | 1);
            memory.Span.Fill(fill);
            nint address = AddressOf(current);
            if (stale.TryGetValue(address, out var earlier))
            {
                reachedAgain++;
                foreach ((IMemoryOwner<byte> owner, Memory<byte> old) in earlier)
                {
                    owner.Dispose();
                    Assert.Throws<ObjectDisposedException>(() => old.Span.Length);
                    Assert.Throws<ObjectDisposedException>(() => old.Slice(1).Pin());
                    Assert.Throws<ObjectDisposedException>(() => owner.Memory);
                }
            }
            else
            {
                stale[address] = earlier = new Queue<(IMemoryOwner<byte>, Memory<byte>)>();
            }
            Assert.True(current.Memory.Span.IndexOfAnyExcept(fill) < 0, $"round {round}: the tenant's buffer was reached by a stale owner");
            current.Dispose();
            earlier.Enqueue((current, memory));
            if (earlier.Count > 3)
                earlier.Dequeue();
        }
        Assert.True(reachedAgain > rounds / 2, $"the pool gave an address back only {reachedAgain} times: the test proved little");
    }

    [Fact]
    public void Racing_second_disposes_never_end_a_later_lease()
    {
        // No thread caches: a buffer one thread returns is the next one any thread rents, so the later leases the
        // main thread takes are of the very record the two racers are disposing.
        using var pool = new NativeMemoryPool(Quiet(new NativePoolOptions { ThreadCaches = false }));
        for (int round = 0; round < 1_000; round++)
        {
            IMemoryOwner<byte> raced = pool.Rent(4096);
            using var start = new Barrier(3);
            Thread[] racers =
            [
                new Thread(() => { start.SignalAndWait(); raced.Dispose(); }),
                new Thread(() => { start.SignalAndWait(); raced.Dispose(); }),
            ];
            foreach (Thread racer in racers)
                racer.Start();
            start.SignalAndWait();
            IMemoryOwner<byte>? held = null;
            for (int k = 1; k <= 4; k++)
            {
                held?.Dispose();
                held = pool.Rent(4096);
                held.Memory.Span.Fill((byte)k);
            }
            foreach (Thread racer in racers)
                racer.Join();
            Assert.True(held!.Memory.Span.IndexOfAnyExcept((byte)4) < 0, $"round {round}: the held lease ended or its buffer was shared");
            held.Dispose();
        }
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(stats.Rents, stats.Returns); // every lease returned exactly once
        Assert.Equal(0, stats.InUseBytes);
    }

    private static unsafe nint AddressOf(IMemoryOwner<byte> owner) =>
        (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(owner.Memory.Span));
}
