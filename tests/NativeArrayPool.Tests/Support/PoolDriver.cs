using NativeBuffers.Arenas;
using NativeBuffers.Os;

namespace NativeBuffers.Tests.Support;

/// <summary>
/// Drives one pool through rent / resize / return steps while keeping a model of every live buffer: its id
/// (which names its byte pattern) and how many bytes of it hold the pattern. After every step
/// <see cref="Check"/> proves that every live buffer still holds its pattern, that no two live buffers
/// overlap, and that the arena's structures validate; the <see cref="MappingLedger"/> collects every range the
/// arena mapped, for the leak check after Dispose.
/// </summary>
internal sealed class PoolDriver : IDisposable
{
    private sealed class Live
    {
        public NativeBuffer<byte> Buffer;
        public int Id;
    }

    private readonly List<Live> _live = new();
    private int _nextId = 1;

    public PoolDriver(NativePoolOptions options)
    {
        Pool = NativeArrayPool<byte>.Create(options);
        Ledger.Record(Arena);
    }

    public NativeArrayPool<byte> Pool { get; }
    public Arena Arena => Pool.Core.Arena;
    public MappingLedger Ledger { get; } = new();
    public int LiveCount => _live.Count;

    /// <summary>Failures the pool reported (operation: exception type).</summary>
    public List<string> Refusals { get; } = new();

    public int Rents, Resizes, Returns;

    public void Rent(long length)
    {
        NativeBuffer<byte> buffer;
        try
        {
            buffer = Pool.Rent(length);
        }
        catch (OutOfMemoryException e)
        {
            Refusals.Add($"Rent({length}): {e.GetType().Name}");
            AfterStep($"Rent({length}) refused");
            return;
        }
        var live = new Live { Buffer = buffer, Id = _nextId++ };
        Pattern.Fill(buffer, live.Id, 0, buffer.Length);
        _live.Add(live);
        Rents++;
        AfterStep($"Rent({length})");
    }

    public void Resize(int index, long length)
    {
        if (_live.Count == 0)
            return;
        Live live = _live[index % _live.Count];
        NativeBuffer<byte> before = live.Buffer;
        NativeBuffer<byte> buffer = before;
        try
        {
            Pool.Resize(ref buffer, length);
        }
        catch (OutOfMemoryException e)
        {
            Refusals.Add($"Resize({before.Length} → {length}): {e.GetType().Name}");
            // A refused resize leaves the lease as it was: still valid, contents intact (checked by AfterStep).
            Assert.True(buffer._allocation == before._allocation && buffer._generation == before._generation,
                "a failed Resize replaced the caller's lease");
            Assert.True(before.IsValid, $"a failed Resize({before.Length} → {length}) left the lease invalid");
            AfterStep($"Resize({before.Length} → {length}) refused");
            return;
        }
        Assert.False(before.IsValid, "the old lease is still valid after a successful Resize");
        long kept = Math.Min(before.Length, buffer.Length);
        live.Buffer = buffer;
        long mismatch = Pattern.FirstMismatch(buffer, live.Id, kept);
        Assert.True(mismatch < 0, $"Resize({before.Length} → {length}) lost contents at byte {mismatch} of {kept} (faults: {Faults})");
        Pattern.Fill(buffer, live.Id, kept, buffer.Length);
        Resizes++;
        AfterStep($"Resize({before.Length} → {length})");
    }

    public void Return(int index)
    {
        if (_live.Count == 0)
            return;
        int at = index % _live.Count;
        Live live = _live[at];
        _live.RemoveAt(at);
        Pool.Return(live.Buffer);
        Assert.False(live.Buffer.IsValid);
        Returns++;
        AfterStep($"Return({live.Buffer.Length})");
    }

    public void Trim()
    {
        Pool.Trim();
        AfterStep("Trim");
    }

    /// <summary>The live buffers' leases, oldest first.</summary>
    public IReadOnlyList<NativeBuffer<byte>> Buffers => _live.Select(l => l.Buffer).ToList();

    public void ReturnAll()
    {
        while (_live.Count > 0)
            Return(_live.Count - 1);
    }

    /// <summary>What was injected, for failure messages (set by the test).</summary>
    public Func<string> Faults { get; set; } = () => "none";

    private void AfterStep(string step)
    {
        Ledger.Record(Arena);
        string? problem = Check();
        Assert.True(problem is null, $"after {step}: {problem} (faults: {Faults()})");
    }

    /// <summary>Null when every invariant holds, else what is wrong.</summary>
    public string? Check()
    {
        var ranges = new List<(nint Start, nint End, int Id)>(_live.Count);
        foreach (Live live in _live)
        {
            if (!live.Buffer.IsValid)
                return $"live buffer {live.Id} has an invalid lease";
            long mismatch = Pattern.FirstMismatch(live.Buffer, live.Id, live.Buffer.Length);
            if (mismatch >= 0)
                return $"buffer {live.Id} ({live.Buffer.Length} bytes) lost its contents at byte {mismatch}";
            nint start = live.Buffer._allocation!.Address;
            ranges.Add((start, start + (nint)live.Buffer.Length, live.Id));
        }
        ranges.Sort((a, b) => a.Start.CompareTo(b.Start));
        for (int i = 1; i < ranges.Count; i++)
        {
            if (ranges[i].Start < ranges[i - 1].End)
                return $"buffers {ranges[i - 1].Id} and {ranges[i].Id} overlap at {ranges[i].Start:x}";
        }
        return Arena.Validate();
    }

    public void Dispose() => Pool.Dispose();
}
