using NativeBuffers.Arenas;

namespace NativeBuffers.Pooling;

/// <summary>
/// A pool's arena together with the pool it serves, so that an object holding only an <see cref="Allocation"/> (a
/// <see cref="NativeMemoryOwner"/>, which stays two fields so that it keeps to 32 bytes) finds where to give its lease
/// back through the record's arena. The pooling layer keeps this association; the arena knows nothing of pools.
/// </summary>
/// <remarks>Thread-safety: as <see cref="Arena"/>; <see cref="Pool"/> never changes.</remarks>
internal sealed class PoolArena(ArenaSettings settings, PoolCore pool) : Arena(settings)
{
    /// <summary>The pool this arena serves.</summary>
    public PoolCore Pool { get; } = pool;
}
