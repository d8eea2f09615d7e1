using NativeBuffers.Os;

namespace NativeBuffers.Arenas;

/// <summary>The arena's view of the pool options, already validated by the pool.</summary>
internal sealed record ArenaSettings(
    VirtualMemory Os,
    int ReservationsPerSize,
    long MinimumReservationBytes,
    long RemapThresholdBytes,
    int MappingBudget,
    int MappingReserve,
    bool HugePages,
    GrowthPaths GrowthPaths);
