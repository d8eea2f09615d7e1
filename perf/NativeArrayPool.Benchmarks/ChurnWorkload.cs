using System.Buffers;

namespace NativeBuffers.Benchmarks;

/// <summary>
/// The large-buffer churn workload: <see cref="Live"/> slots each holding a buffer of 1–64 MiB; every step
/// returns one slot's buffer and rents a new random size into it, then writes one byte per 4 KiB page of the
/// requested length (so the memory is really used and RSS means something). The same seed drives both pools.
/// </summary>
public sealed class ChurnWorkload
{
    public const int Live = 8;
    private const int MinBytes = 1 << 20;
    private const int MaxBytes = 64 << 20;

    private readonly Random _random = new(7);

    public interface IPool
    {
        void Rent(int slot, int bytes);
        void Return(int slot);
        void Touch(int slot, int bytes);
    }

    public void Fill(IPool pool)
    {
        for (int slot = 0; slot < Live; slot++)
            RentInto(pool, slot);
    }

    public void Step(IPool pool)
    {
        int slot = _random.Next(Live);
        pool.Return(slot);
        RentInto(pool, slot);
    }

    public void Drain(IPool pool)
    {
        for (int slot = 0; slot < Live; slot++)
            pool.Return(slot);
    }

    private void RentInto(IPool pool, int slot)
    {
        int bytes = _random.Next(MinBytes, MaxBytes + 1);
        pool.Rent(slot, bytes);
        pool.Touch(slot, bytes);
    }

    public sealed class Native : IPool
    {
        private readonly NativeBuffer<byte>[] _slots = new NativeBuffer<byte>[Live];

        public void Rent(int slot, int bytes) => _slots[slot] = NativeArrayPool<byte>.Shared.Rent(bytes);
        public void Return(int slot) => NativeArrayPool<byte>.Shared.Return(_slots[slot]);

        public void Touch(int slot, int bytes)
        {
            NativeBuffer<byte> buffer = _slots[slot];
            for (long i = 0; i < bytes; i += 4096)
                buffer[i] = 1;
        }
    }

    public sealed class Managed : IPool
    {
        private readonly byte[][] _slots = new byte[Live][];

        public void Rent(int slot, int bytes) => _slots[slot] = ArrayPool<byte>.Shared.Rent(bytes);
        public void Return(int slot) => ArrayPool<byte>.Shared.Return(_slots[slot]);

        public void Touch(int slot, int bytes)
        {
            byte[] array = _slots[slot];
            for (int i = 0; i < bytes; i += 4096)
                array[i] = 1;
        }
    }
}
