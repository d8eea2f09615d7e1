namespace NativeBuffers.Tests.Support;

/// <summary>A clock the test moves by hand, and timers that fire only when the test says so.</summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    private readonly List<(TimerCallback Callback, object? State)> _timers = new();

    public long Now { get; set; }

    public override long TimestampFrequency => 1000; // milliseconds

    public override long GetTimestamp() => Now;

    public void Advance(TimeSpan by) => Now += (long)by.TotalMilliseconds;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        _timers.Add((callback, state));
        return new Handle();
    }

    /// <summary>Runs every timer's callback once, on this thread.</summary>
    public void FireTimers()
    {
        foreach ((TimerCallback callback, object? state) in _timers.ToList())
            callback(state);
    }

    public int TimerCount => _timers.Count;

    private sealed class Handle : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => true;
        public void Dispose() { }
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
