using System.Numerics;

namespace NativeBuffers.Arenas;

/// <summary>
/// Kuszmaul's geometric schedule for mapping address space: make K reservations of a size, then double it.
/// With uniform demands the reserved space is at most (1+K)/K of the demand plus one minimum reservation,
/// and N units of demand take at most K·⌈log2 N⌉ + K reservations. A demand larger than the current size
/// jumps the schedule to the demand's power of two, so one huge buffer does not make log N small mappings.
/// </summary>
/// <remarks>Not thread-safe: the owning space calls it under its lock.</remarks>
internal struct ReservationSchedule
{
    private readonly long _minimum;
    private readonly int _perSize;
    private int _level;
    private int _madeAtLevel;

    /// <param name="minimumBytes">The first reservation's size; a power of two.</param>
    /// <param name="perSize">K: how many reservations of one size before the size doubles (≥ 1).</param>
    public ReservationSchedule(long minimumBytes, int perSize)
    {
        if (!BitOperations.IsPow2(minimumBytes) || perSize < 1)
            throw new ArgumentOutOfRangeException(nameof(minimumBytes));
        _minimum = minimumBytes;
        _perSize = perSize;
        _level = 0;
        _madeAtLevel = 0;
    }

    public readonly long MinimumBytes => _minimum;
    public readonly int PerSize => _perSize;

    /// <summary>The size the next reservation would have for a small demand.</summary>
    public readonly long CurrentSize => _minimum << _level;

    /// <summary>
    /// Takes the size of the next reservation for a demand of <paramref name="demandBytes"/> and advances the
    /// schedule. The result is a power of two, at least the demand and at least the scheduled size.
    /// </summary>
    public long Next(long demandBytes)
    {
        long size = _minimum << _level;
        if (demandBytes > size)
        {
            // Jump: start a fresh batch of K at the demand's size, so the next buffers of that size share mappings.
            _level = BitOperations.Log2((ulong)(demandBytes - 1)) + 1 - BitOperations.Log2((ulong)_minimum);
            _madeAtLevel = 0;
            size = _minimum << _level;
        }
        if (++_madeAtLevel == _perSize)
        {
            _level++;
            _madeAtLevel = 0;
        }
        return size;
    }

    /// <summary>
    /// Takes back one step of <see cref="Next"/>: a reservation it sized was released. The schedule then follows the
    /// live reservations rather than every reservation ever made, so a space that trims release and reserves again
    /// keeps its sizes (and the bounds above hold for what is mapped). A jump is not undone: the size stays near the
    /// largest demand until reservations below it are released too.
    /// </summary>
    public void Retreat()
    {
        if (_madeAtLevel > 0)
        {
            _madeAtLevel--;
        }
        else if (_level > 0)
        {
            _level--;
            _madeAtLevel = _perSize - 1;
        }
    }
}
