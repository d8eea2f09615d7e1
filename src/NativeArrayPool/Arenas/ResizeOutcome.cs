namespace NativeBuffers.Arenas;

/// <summary>
/// What one <see cref="Arena.Resize(Allocation, int, bool, List{Allocation}?, ref ResizeOutcome)"/> did, for the
/// caller to report once the call is over. The arena reports nothing itself: events then never run under its lock,
/// and the arena needs to know nothing of the layers above it (pooling, diagnostics).
/// </summary>
/// <remarks>
/// The arena fills it in as the resize goes, so the page moves the budget declined are recorded even when the
/// resize then throws (no enabled path left). Not thread-safe: one resize, one outcome, on the caller's stack.
/// </remarks>
internal struct ResizeOutcome
{
    /// <summary>The buffer's capacity before the resize, in bytes.</summary>
    public long OldBytes;

    /// <summary>The capacity after the resize, in bytes; 0 when the resize threw.</summary>
    public long NewBytes;

    /// <summary>The path that grew the buffer; <see cref="GrowthPaths.None"/> for a shrink, no change, or a growth that threw.</summary>
    public GrowthPaths GrowthPath;

    /// <summary>Page moves the mapping budget declined during this resize: 0 to 2 (the fixed remap, then the plain one).</summary>
    public int MovesDeclinedByBudget;
}
