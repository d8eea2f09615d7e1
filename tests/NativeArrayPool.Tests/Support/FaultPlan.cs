using NativeBuffers.Interop;
using NativeBuffers.Os;

namespace NativeBuffers.Tests.Support;

/// <summary>
/// A switchable fault schedule for <see cref="FaultInjectingVirtualMemory"/>: each primitive fails with its own
/// probability (reproducibly from a seed), or exactly one call fails; <see cref="Enabled"/> turns every
/// fault off, so a test can clean up and then check the kernel's state without faults in the way.
/// The errors are the ones the kernel gives: ENOMEM and EFAULT everywhere, EINVAL for a refused move (which
/// leaves the destination mapped), EEXIST for a FillHole whose range is taken.
/// </summary>
internal sealed class FaultPlan
{
    private readonly Random _random;
    private readonly double[] _probability = new double[Enum.GetValues<Primitive>().Length];
    private (Primitive Primitive, long Call, OsError Error)? _single;

    public FaultPlan(int seed) => _random = new Random(seed);

    public bool Enabled { get; set; } = true;

    /// <summary>Injected failures, as "Primitive#call:error", in order.</summary>
    public List<string> Log { get; } = new();

    public FaultPlan FailRandomly(Primitive primitive, double probability)
    {
        _probability[(int)primitive] = probability;
        return this;
    }

    public FaultPlan FailAt(Primitive primitive, long call, OsError error)
    {
        _single = (primitive, call, error);
        return this;
    }

    /// <summary>Whether a failed MoveInto has unmapped its destination (older kernels) or not (map-count refusal, 6.x).</summary>
    public bool MoveIntoFailureUnmapsDestination { get; set; } = true;

    public FaultInjectingVirtualMemory Wrap(VirtualMemory inner) =>
        new(inner, Decide) { MoveIntoFailureUnmapsDestination = MoveIntoFailureUnmapsDestination };

    private OsError Decide(Primitive primitive, long call)
    {
        if (!Enabled)
            return OsError.Success;
        OsError error = OsError.Success;
        if (_single is { } single)
        {
            if (single.Primitive == primitive && single.Call == call)
                error = single.Error;
        }
        else if (_random.NextDouble() < _probability[(int)primitive])
        {
            error = primitive switch
            {
                Primitive.MoveInto => _random.Next(3) switch { 0 => OsError.OutOfMemory, 1 => OsError.Fault, _ => OsError.InvalidArgument },
                Primitive.FillHole => _random.Next(4) == 0 ? OsError.Exists : OsError.OutOfMemory,
                _ => _random.Next(2) == 0 ? OsError.OutOfMemory : OsError.Fault,
            };
        }
        if (error.IsFailure)
            Log.Add($"{primitive}#{call}:{error}");
        return error;
    }
}
