namespace NativeBuffers.Arenas;

/// <summary>What a run (a maximal range of one kind and identity) of a reservation is, for the kernel-mapping model.</summary>
internal enum RunKind : byte
{
    /// <summary>The reservation's own pages, or pages mapped again after a move.</summary>
    Fresh,
    /// <summary>Pages moved in by mremap: the kernel keeps them as a VMA of their own.</summary>
    Island,
    /// <summary>A range we vacated and could not map again yet (we still own the address space).</summary>
    Hole,
    /// <summary>A vacated range somebody else mapped before we could: never used or unmapped by us again.</summary>
    ForeignHole,
}

/// <summary>
/// The kernel-mapping model of one reservation: how many kernel mappings (VMAs) its range is, by offset. It knows
/// nothing of which blocks are free (<see cref="BuddyBlocks"/> keeps that).
/// </summary>
/// <remarks>
/// <para>The reservation is a partition into runs; each run is fresh pages of one identity (the kernel's
/// anon_vma), an island, or a hole. The kernel merges neighbouring fresh runs only when their identities
/// agree, so the VMA count is the number of fresh and island runs after merging equal neighbours.
/// A range mapped again (a hole filled after a move, or an island refreshed) has no identity yet and joins
/// its left fresh neighbour if there is one, else its right one, as the kernel's vma_merge does; with no
/// such neighbour it becomes a new identity (assumed touched later, so it will not merge afterwards).
/// A <i>relocated</i> identity is an island kept as the reservation's own pages (<see cref="KeepIsland"/>): its page
/// offset comes from where its pages were moved from, so a range mapped again beside it never merges with it, and
/// neither do its pieces once something between them goes.</para>
/// <para>The model may count more VMAs than the kernel has (untouched ranges merge more), never fewer; tests check
/// <see cref="VmaCount"/> against /proc/self/maps.</para>
/// Not thread-safe: the owning arena calls it (through <see cref="Reservation"/>) under its lock.
/// </remarks>
internal sealed class MappingModel
{
    private readonly long _size;

    public MappingModel(long size)
    {
        _size = size;
        _runs.Add(new Run(0, size, RunKind.Fresh, 1));
        VmaCount = 1;
    }

    /// <summary>Kernel mappings the reservation's range is by the model: its fresh runs and islands.</summary>
    public int VmaCount { get; private set; }

    private readonly List<Run> _runs = new();
    private int _nextIdentity = 2;
    // Identities whose mapping is known to have an anon_vma, because the arena wrote into it (see Split).
    private readonly HashSet<int> _stamped = new();
    // Identities of kept islands and their pieces (see KeepIsland).
    private readonly HashSet<int> _relocated = new();

    private readonly record struct Run(long Offset, long Length, RunKind Kind, int Identity)
    {
        public long End => Offset + Length;
    }

    public bool IsIsland(long offset)
    {
        foreach (Run run in _runs)
        {
            if (run.Offset == offset)
                return run.Kind == RunKind.Island;
            if (run.Offset > offset)
                break;
        }
        return false;
    }

    /// <summary>Whether the fresh run holding <paramref name="offset"/> must be stamped before a move cuts it (see Split).</summary>
    public bool NeedsStamp(long offset)
    {
        foreach (Run run in _runs)
        {
            if (run.Offset <= offset && offset < run.End)
                return run.Kind == RunKind.Fresh && !_stamped.Contains(run.Identity);
        }
        return false;
    }

    /// <summary>The arena wrote into the fresh run holding <paramref name="offset"/>: its mapping has an anon_vma.</summary>
    public void MarkStamped(long offset)
    {
        foreach (Run run in _runs)
        {
            if (run.Offset <= offset && offset < run.End)
            {
                if (run.Kind == RunKind.Fresh)
                    _stamped.Add(run.Identity);
                return;
            }
        }
    }

    /// <summary>Pages moved in at [offset, offset+length): a VMA of their own.</summary>
    public void MarkIsland(long offset, long length) => Set(_runs, offset, length, RunKind.Island, _nextIdentity++);

    /// <summary>Whether the reservation is one island from end to end: a buffer's pages moved into the whole of it.</summary>
    public bool IsWholeIsland => _runs.Count == 1 && _runs[0].Kind == RunKind.Island;

    /// <summary>
    /// The island at [offset, offset+length) stays mapped, pages and all, as free memory of the reservation: one
    /// fresh run of a relocated identity (its page offset does not continue from its address, so nothing mapped
    /// beside it later merges with it). Its kernel mapping is unchanged, so the VMA count is too.
    /// </summary>
    public void KeepIsland(long offset, long length)
    {
        System.Diagnostics.Debug.Assert(IsIsland(offset));
        int identity = _nextIdentity++;
        _relocated.Add(identity);
        Set(_runs, offset, length, RunKind.Fresh, identity);
    }

    /// <summary>[offset, offset+length) was mapped again with fresh pages: it merges with a fresh neighbour.</summary>
    public void MarkFresh(long offset, long length)
    {
        Set(_runs, offset, length, RunKind.Fresh, 0);
        int at = IndexAt(_runs, offset);
        // At offset 0 the kernel's first choice is the mapping before the reservation, which is not ours:
        // a fresh neighbour outside (another reservation) has a contiguous page offset, so the range merges
        // with it and inherits its anon_vma, and cannot merge with a touched run inside afterwards (measured:
        // a huge-page reservation showed [0,4) and [4,8) MiB apart after its first island was refreshed).
        // Likewise a hole on the left may hold someone else's mapping now, which the kernel would try first: only an
        // island on the left (a VMA whose page offset does not continue into the range) leaves the right as the choice.
        // A relocated run is such a VMA too, on either side: the range merges with neither.
        int identity =
            at > 0 && IsMergeableFresh(_runs[at - 1]) ? _runs[at - 1].Identity
            : at > 0 && IsForeignOffset(_runs[at - 1]) && at + 1 < _runs.Count && IsMergeableFresh(_runs[at + 1]) ? _runs[at + 1].Identity
            : _nextIdentity++;
        _runs[at] = _runs[at] with { Identity = identity };
        Normalize(_runs);
        VmaCount = CountVmas(_runs);
    }

    private bool IsMergeableFresh(Run run) => run.Kind == RunKind.Fresh && !_relocated.Contains(run.Identity);

    private bool IsForeignOffset(Run run) => run.Kind == RunKind.Island || (run.Kind == RunKind.Fresh && _relocated.Contains(run.Identity));

    /// <summary>[offset, offset+length) is unmapped: ours to map again later, or taken by another mapping (foreign).</summary>
    public void MarkHole(long offset, long length, bool foreign) =>
        Set(_runs, offset, length, foreign ? RunKind.ForeignHole : RunKind.Hole, 0);

    /// <summary>The VMA count if an island were placed at [offset, offset+length).</summary>
    public int VmaCountWithIsland(long offset, long length)
    {
        var trial = new List<Run>(_runs);
        Set(trial, offset, length, RunKind.Island, int.MaxValue, recount: false);
        return CountVmas(trial);
    }

    /// <summary>The runs that are not fresh (islands and holes), for tests and diagnostics.</summary>
    public IReadOnlyList<(long Offset, long Length, RunKind Kind)> IslandsAndHoles =>
        _runs.Where(r => r.Kind != RunKind.Fresh).Select(r => (r.Offset, r.Length, r.Kind)).ToList();

    /// <summary>The runs as "kind identity @ offset + length", for failure messages. Allocates.</summary>
    public string DescribeRuns()
    {
        var text = new System.Text.StringBuilder();
        foreach (Run run in _runs)
        {
            text.Append(text.Length == 0 ? "" : " ").Append(run.Kind).Append(run.Identity).Append(_stamped.Contains(run.Identity) ? "*" : "")
                .Append(_relocated.Contains(run.Identity) ? "~" : "")
                .Append('@').Append(run.Offset.ToString("x")).Append('+').Append(run.Length.ToString("x"));
        }
        return text.ToString();
    }

    /// <summary>The ranges (offset, length) we may unmap when the reservation goes: all of it except ranges others mapped.</summary>
    public IEnumerable<(long Offset, long Length)> OwnedRanges()
    {
        foreach (Run run in _runs)
        {
            if (run.Kind != RunKind.ForeignHole)
                yield return (run.Offset, run.Length);
        }
    }

    /// <summary>What, if anything, in [<paramref name="start"/>, <paramref name="end"/>) is not fresh; null when all of it is.</summary>
    public string? DescribeNotFresh(long start, long end)
    {
        foreach (Run run in _runs)
        {
            if (run.Kind != RunKind.Fresh && run.Offset < end && start < run.End)
                return $"a {run.Kind} at {run.Offset}";
        }
        return null;
    }

    /// <summary>Checks that the runs partition the reservation and that <see cref="VmaCount"/> is up to date. Null when valid.</summary>
    public string? Validate()
    {
        long cursor = 0;
        foreach (Run run in _runs)
        {
            if (run.Offset != cursor || run.Length <= 0)
                return $"runs do not partition the reservation at {cursor}";
            cursor = run.End;
        }
        if (cursor != _size)
            return "runs do not cover the reservation";
        return VmaCount == CountVmas(_runs) ? null : "VMA count out of date";
    }

    private void Set(List<Run> runs, long offset, long length, RunKind kind, int identity, bool recount = true)
    {
        Split(runs, offset);
        Split(runs, offset + length);
        int first = IndexAt(runs, offset);
        int last = first;
        while (last < runs.Count && runs[last].End <= offset + length)
            last++;
        runs.RemoveRange(first, last - first);
        runs.Insert(first, new Run(offset, length, kind, identity));
        Normalize(runs);
        if (recount)
            VmaCount = CountVmas(runs);
    }

    // Cutting a fresh run gives the right-hand piece an identity of its own unless the identity is stamped. The
    // kernel splits a VMA without changing its anon_vma, but a VMA nobody has written to has none yet, and then each
    // piece gets its own when first written: pieces of one mapping may never merge again (KernelMergeTests shows
    // it). Whether the user wrote cannot be seen from here; the arena stamps an identity (rewrites a byte of the
    // block a move vacates or replaces) before the move cuts it, and pieces of a stamped identity share its anon_vma.
    // A piece of a relocated identity is relocated too: its page offset is the whole run's.
    private void Split(List<Run> runs, long at)
    {
        for (int i = 0; i < runs.Count; i++)
        {
            Run run = runs[i];
            if (run.Offset < at && at < run.End)
            {
                runs[i] = run with { Length = at - run.Offset };
                int identity = run.Kind == RunKind.Fresh && !_stamped.Contains(run.Identity) ? _nextIdentity++ : run.Identity;
                if (identity != run.Identity && _relocated.Contains(run.Identity))
                    _relocated.Add(identity);
                runs.Insert(i + 1, run with { Offset = at, Length = run.End - at, Identity = identity });
                return;
            }
        }
    }

    private static int IndexAt(List<Run> runs, long offset)
    {
        for (int i = 0; i < runs.Count; i++)
        {
            if (runs[i].Offset == offset)
                return i;
        }
        throw new InvalidOperationException($"no run starts at {offset}");
    }

    // Neighbouring fresh runs of one identity are one VMA; holes of the same kind are one hole.
    private static void Normalize(List<Run> runs)
    {
        for (int i = runs.Count - 1; i > 0; i--)
        {
            Run left = runs[i - 1], right = runs[i];
            bool sameFresh = left.Kind == RunKind.Fresh && right.Kind == RunKind.Fresh && left.Identity == right.Identity;
            bool sameHole = left.Kind == right.Kind && left.Kind is RunKind.Hole or RunKind.ForeignHole;
            if (sameFresh || sameHole)
            {
                runs[i - 1] = left with { Length = left.Length + right.Length };
                runs.RemoveAt(i);
            }
        }
    }

    private static int CountVmas(List<Run> runs)
    {
        int count = 0;
        foreach (Run run in runs)
        {
            if (run.Kind is RunKind.Fresh or RunKind.Island)
                count++;
        }
        return count;
    }
}
