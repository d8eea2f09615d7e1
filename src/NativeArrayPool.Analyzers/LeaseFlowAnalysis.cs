using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace NativeBuffers.Analyzers;

/// <summary>
/// A forward data-flow analysis over one control-flow graph (a method, constructor, lambda or local function body)
/// that follows every local (and by-value parameter) holding a lease (<c>NativeBuffer&lt;T&gt;</c>) or a view taken
/// from one (a span, memory or pointer), and reports NAP001-NAP004.
/// </summary>
/// <remarks>
/// <para>Each tracked local has, at each point, the set of abstract values it may have on the paths reaching that
/// point (a "may" set; joins are unions). A diagnostic is reported only when the set holds the bad value alone: a use
/// is reported after a Return only if <em>every</em> path to it returned the lease, a leak only if the lease is live
/// on <em>every</em> path reaching that exit. Paths the compiler cannot tell apart from infeasible ones (a flag set in
/// one branch and tested in another, a loop that returns on its last turn) then give mixed sets and silence: a miss
/// costs less trust than a false alarm.</para>
/// <para>Anything the analysis does not understand hands the lease off (state Escaped): passing it to any other
/// method, storing it, returning it, copying it to another variable. Locals captured by a lambda or local function,
/// or whose address or a reference to which is taken, are not tracked at all.</para>
/// <para>Exceptions are followed only as far as needed: a <c>catch</c> handler starts from the union of every state
/// inside its <c>try</c>; a <c>finally</c> is analysed once, from the union of the states of all branches leaving
/// through it, and its end flows to all their destinations; a <c>throw</c> reports a leak only outside any
/// <c>try</c>. Implicit exceptions (a call that throws) are not paths here.</para>
/// </remarks>
internal sealed class LeaseFlowAnalysis
{
    // A lease local's abstract values.
    private const byte Unassigned = 1; // default, or a lease of unknown origin (a parameter, a field, a call)
    private const byte Live = 2;       // rented here and still owned here
    private const byte Returned = 4;   // given back with pool.Return
    private const byte Disposed = 8;   // given back with Dispose
    private const byte Escaped = 16;   // handed off, or used in a way the analysis does not follow
    private const byte Empty = 32;     // from Rent(0) or Resize(ref b, 0): holds no memory, returning it is ignored
    private const byte Ended = Returned | Disposed;

    // A view local's abstract values.
    private const byte ViewUnknown = 1;  // not taken from a tracked lease, or taken from different ones
    private const byte ViewFresh = 2;    // taken from its lease, which has not changed since
    private const byte ViewResized = 4;  // its lease was resized since
    private const byte ViewEnded = 8;    // its lease was returned or disposed since
    private const byte ViewStale = ViewResized | ViewEnded;

    private const int NoSource = -1;
    private const int MixedSources = -2;

    private readonly ControlFlowGraph _cfg;
    private readonly LeaseSymbols _symbols;
    private readonly Action<Diagnostic> _reportDiagnostic;
    private readonly HashSet<(string Id, Location Location)> _reported = new();

    private readonly Dictionary<ISymbol, int> _index = new(SymbolEqualityComparer.Default);
    private readonly List<ISymbol> _locals = new();
    private readonly List<bool> _isLease = new();

    private readonly List<Edge>[] _edges;
    private readonly List<int>[] _handlers;
    private readonly Dictionary<ControlFlowRegion, int> _finallyEnds = new();
    private State?[] _in = Array.Empty<State?>();

    // The state being transformed and whether diagnostics are reported (only in the pass after the fixed point).
    private State _state = null!;
    private bool _report;
    private Action? _afterOperation;

    private LeaseFlowAnalysis(ControlFlowGraph cfg, LeaseSymbols symbols, Action<Diagnostic> reportDiagnostic)
    {
        _cfg = cfg;
        _symbols = symbols;
        _reportDiagnostic = reportDiagnostic;
        _edges = new List<Edge>[cfg.Blocks.Length];
        _handlers = new List<int>[cfg.Blocks.Length];
    }

    /// <summary>Analyses <paramref name="cfg"/> and the graphs of the lambdas and local functions inside it.</summary>
    public static void Run(ControlFlowGraph cfg, LeaseSymbols symbols, Action<Diagnostic> reportDiagnostic, CancellationToken cancellation)
    {
        new LeaseFlowAnalysis(cfg, symbols, reportDiagnostic).Analyze(cancellation);

        foreach (IMethodSymbol localFunction in cfg.LocalFunctions)
            Run(cfg.GetLocalFunctionControlFlowGraph(localFunction, cancellation), symbols, reportDiagnostic, cancellation);
        foreach (BasicBlock block in cfg.Blocks)
        {
            foreach (IOperation operation in block.Operations.Concat(block.BranchValue is null ? Enumerable.Empty<IOperation>() : new[] { block.BranchValue }))
            {
                foreach (IFlowAnonymousFunctionOperation lambda in operation.DescendantsAndSelf().OfType<IFlowAnonymousFunctionOperation>())
                    Run(cfg.GetAnonymousFunctionControlFlowGraph(lambda, cancellation), symbols, reportDiagnostic, cancellation);
            }
        }
    }

    private void Analyze(CancellationToken cancellation)
    {
        CollectTrackedLocals();
        if (_locals.Count == 0)
            return;
        BuildEdges();

        int nodes = _cfg.Blocks.Length + _finallyEnds.Count;
        _in = new State?[nodes];
        _in[0] = State.Initial(_isLease);
        var work = new Queue<int>();
        var queued = new bool[nodes];
        work.Enqueue(0);
        queued[0] = true;
        while (work.Count > 0)
        {
            cancellation.ThrowIfCancellationRequested();
            int node = work.Dequeue();
            queued[node] = false;
            foreach ((int target, State state) in Step(node, report: false))
            {
                State? current = _in[target];
                bool changed;
                if (current is null)
                {
                    _in[target] = state;
                    changed = true;
                }
                else
                {
                    changed = current.JoinWith(state);
                }
                if (changed && !queued[target])
                {
                    queued[target] = true;
                    work.Enqueue(target);
                }
            }
        }

        // The fixed point is reached: go over every reached node once more, now reporting.
        for (int node = 0; node < nodes; node++)
        {
            if (_in[node] is not null)
                _ = Step(node, report: true).ToList();
        }
    }

    /// <summary>Runs one node (a block, or the end of a finally) from its entry state; yields the states it sends on.</summary>
    private IEnumerable<(int Target, State State)> Step(int node, bool report)
    {
        _state = _in[node]!.Clone();
        _report = report;
        var sent = new List<(int, State)>();
        if (node < _cfg.Blocks.Length)
        {
            BasicBlock block = _cfg.Blocks[node];
            List<int>? handlers = _handlers[node];
            _afterOperation = handlers is null || report ? null : () =>
            {
                foreach (int handler in handlers)
                    sent.Add((handler, _state.Clone()));
            };
            _afterOperation?.Invoke();
            foreach (IOperation operation in block.Operations)
            {
                Visit(operation);
                _afterOperation?.Invoke();
            }
            if (block.BranchValue is not null)
            {
                Visit(block.BranchValue);
                _afterOperation?.Invoke();
            }
        }

        State after = _state;
        foreach (Edge edge in EdgesOf(node))
        {
            _state = after.Clone();
            CrossEdge(edge);
            if (edge.Target >= 0)
                sent.Add((edge.Target, _state));
        }
        return sent;
    }

    private IEnumerable<Edge> EdgesOf(int node) =>
        node < _cfg.Blocks.Length ? (_edges[node] ?? Enumerable.Empty<Edge>()) : FinallyEndEdges(node);

    private readonly Dictionary<int, List<Edge>> _finallyEndEdges = new();

    private IEnumerable<Edge> FinallyEndEdges(int node) =>
        _finallyEndEdges.TryGetValue(node, out List<Edge>? edges) ? edges : Enumerable.Empty<Edge>();

    // ---- graph ----------------------------------------------------------------------------------------------------

    private enum ExitKind { None, Returns, Throws }

    /// <summary>A flow from one node to <see cref="Target"/> (-1: out of the method), leaving the scopes in <see cref="Leaving"/>.</summary>
    private sealed class Edge
    {
        public Edge(int target, ImmutableArray<ControlFlowRegion> leaving, ExitKind exit)
        {
            Target = target;
            Leaving = leaving;
            Exit = exit;
        }

        public int Target { get; }
        public ImmutableArray<ControlFlowRegion> Leaving { get; }
        public ExitKind Exit { get; }
    }

    private void BuildEdges()
    {
        foreach (BasicBlock block in _cfg.Blocks)
        {
            // The graph keeps blocks no execution reaches (after `while (true)`, a switch expression's no-match throw
            // when a discard arm matches everything): a path through them would report a leak that cannot happen.
            if (!block.IsReachable)
                continue;
            AddHandlers(block);
            bool? constant = block.BranchValue?.ConstantValue is { HasValue: true, Value: bool value } ? value : null;
            if (block.ConditionalSuccessor is ControlFlowBranch conditional && TakesConditional(block.ConditionKind, constant) != false)
                AddBranch(block, conditional);
            if (block.FallThroughSuccessor is ControlFlowBranch fallThrough && TakesConditional(block.ConditionKind, constant) != true)
                AddBranch(block, fallThrough);
        }
    }

    /// <summary>Whether a block whose condition is a constant always (true) or never (false) takes its conditional branch.</summary>
    private static bool? TakesConditional(ControlFlowConditionKind kind, bool? constant) =>
        constant is not bool value ? null
        : kind == ControlFlowConditionKind.WhenTrue ? value
        : kind == ControlFlowConditionKind.WhenFalse ? !value
        : null;

    private void AddBranch(BasicBlock block, ControlFlowBranch branch)
    {
        switch (branch.Semantics)
        {
            case ControlFlowBranchSemantics.StructuredExceptionHandling:
                // The end of a finally: flows to wherever the branches that entered it were going.
                ControlFlowRegion? @finally = Enclosing(block, ControlFlowRegionKind.Finally);
                if (@finally is not null)
                    AddEdge(block.Ordinal, new Edge(FinallyEnd(@finally), ImmutableArray<ControlFlowRegion>.Empty, ExitKind.None));
                return;
            case ControlFlowBranchSemantics.Throw:
            case ControlFlowBranchSemantics.Rethrow:
                // A throw the compiler wrote (a switch expression's SwitchExpressionException when no arm matches) is
                // not a path the code's author wrote: an exhaustive switch never takes it, and a non-exhaustive one
                // already draws the compiler's own warning.
                if (block.BranchValue is IOperation thrown && Unwrap(thrown).IsImplicit)
                    return;
                // Inside a try, a handler or a finally may still return the lease: only an unguarded throw leaks.
                if (Enclosing(block, ControlFlowRegionKind.Try) is null && Enclosing(block, ControlFlowRegionKind.Finally) is null)
                    AddEdge(block.Ordinal, new Edge(-1, ImmutableArray<ControlFlowRegion>.Empty, ExitKind.Throws));
                return;
        }
        if (branch.Destination is null)
            return;

        int from = block.Ordinal;
        foreach (ControlFlowRegion @finally in branch.FinallyRegions)
        {
            AddEdge(from, new Edge(@finally.FirstBlockOrdinal, ImmutableArray<ControlFlowRegion>.Empty, ExitKind.None));
            from = FinallyEnd(@finally);
        }
        bool exits = branch.Destination.Kind == BasicBlockKind.Exit;
        AddEdge(from, new Edge(branch.Destination.Ordinal, branch.LeavingRegions, exits ? ExitKind.Returns : ExitKind.None));
    }

    private void AddEdge(int from, Edge edge)
    {
        List<Edge> list;
        if (from < _cfg.Blocks.Length)
        {
            list = _edges[from] ??= new List<Edge>();
        }
        else if (!_finallyEndEdges.TryGetValue(from, out list!))
        {
            list = new List<Edge>();
            _finallyEndEdges[from] = list;
        }
        list.Add(edge);
    }

    private int FinallyEnd(ControlFlowRegion @finally)
    {
        if (!_finallyEnds.TryGetValue(@finally, out int node))
        {
            node = _cfg.Blocks.Length + _finallyEnds.Count;
            _finallyEnds[@finally] = node;
        }
        return node;
    }

    /// <summary>Every catch (and filter) that may receive an exception thrown in <paramref name="block"/>.</summary>
    private void AddHandlers(BasicBlock block)
    {
        for (ControlFlowRegion? region = block.EnclosingRegion; region is not null; region = region.EnclosingRegion)
        {
            if (region.Kind != ControlFlowRegionKind.Try || region.EnclosingRegion?.Kind != ControlFlowRegionKind.TryAndCatch)
                continue;
            foreach (ControlFlowRegion handler in region.EnclosingRegion.NestedRegions)
            {
                if (handler.Kind is ControlFlowRegionKind.Catch or ControlFlowRegionKind.FilterAndHandler)
                    (_handlers[block.Ordinal] ??= new List<int>()).Add(handler.FirstBlockOrdinal);
            }
        }
    }

    private static ControlFlowRegion? Enclosing(BasicBlock block, ControlFlowRegionKind kind)
    {
        for (ControlFlowRegion? region = block.EnclosingRegion; region is not null; region = region.EnclosingRegion)
        {
            if (region.Kind == kind)
                return region;
        }
        return null;
    }

    private void CollectTrackedLocals()
    {
        var excluded = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        foreach (IOperation operation in _cfg.OriginalOperation.Descendants())
        {
            switch (operation)
            {
                // Captured by a nested function: it may run at any time, the analysis cannot order it.
                case IAnonymousFunctionOperation or ILocalFunctionOperation:
                    foreach (IOperation inner in operation.Descendants())
                    {
                        if (Variable(inner) is ISymbol captured)
                            excluded.Add(captured);
                    }
                    break;
                // Aliased through an address or a reference: writes through the alias are invisible.
                case IAddressOfOperation address when Variable(address.Reference) is ISymbol aliased:
                    excluded.Add(aliased);
                    break;
                case ISimpleAssignmentOperation { IsRef: true } assignment when Variable(assignment.Value) is ISymbol aliased:
                    excluded.Add(aliased);
                    break;
                case IVariableInitializerOperation { Parent: IVariableDeclaratorOperation { Symbol.RefKind: not RefKind.None } } initializer
                    when Variable(initializer.Value) is ISymbol aliased:
                    excluded.Add(aliased);
                    break;
                case IReturnOperation returned when Variable(returned.ReturnedValue) is ISymbol aliased && IsRefReturning(_cfg.OriginalOperation):
                    excluded.Add(aliased);
                    break;
            }
        }

        // The graph's own locals, and its own by-value parameters (a lease passed in is of unknown origin).
        IEnumerable<(ISymbol Symbol, ITypeSymbol Type)> variables = LocalsOf(_cfg.Root)
            .Where(local => !local.IsRef)
            .Select(local => ((ISymbol)local, local.Type))
            .Concat(ParametersOf(_cfg.OriginalOperation)
                .Where(parameter => parameter.RefKind == RefKind.None)
                .Select(parameter => ((ISymbol)parameter, parameter.Type)));
        foreach ((ISymbol variable, ITypeSymbol type) in variables)
        {
            if (excluded.Contains(variable) || _index.ContainsKey(variable))
                continue;
            bool lease = _symbols.IsLease(type);
            if (!lease && !_symbols.IsView(type))
                continue;
            _index[variable] = _locals.Count;
            _locals.Add(variable);
            _isLease.Add(lease);
        }
    }

    private static IEnumerable<IParameterSymbol> ParametersOf(IOperation root)
    {
        IMethodSymbol? method = root switch
        {
            IAnonymousFunctionOperation lambda => lambda.Symbol,
            ILocalFunctionOperation local => local.Symbol,
            _ => root.SemanticModel?.GetDeclaredSymbol(root.Syntax) as IMethodSymbol,
        };
        return method?.Parameters ?? Enumerable.Empty<IParameterSymbol>();
    }

    /// <summary>The local or parameter <paramref name="operation"/> reads or writes, if it is one.</summary>
    private static ISymbol? Variable(IOperation? operation) => operation switch
    {
        ILocalReferenceOperation local => local.Local,
        IParameterReferenceOperation parameter => parameter.Parameter,
        _ => null,
    };

    private static bool IsRefReturning(IOperation root) =>
        root.SemanticModel?.GetEnclosingSymbol(root.Syntax.SpanStart) is IMethodSymbol { RefKind: not RefKind.None };

    private static IEnumerable<ILocalSymbol> LocalsOf(ControlFlowRegion region) =>
        region.Locals.Concat(region.NestedRegions.SelectMany(LocalsOf));

    // ---- transfer -------------------------------------------------------------------------------------------------

    private void CrossEdge(Edge edge)
    {
        if (edge.Exit != ExitKind.None)
            ReportLiveLeases(edge.Exit == ExitKind.Returns ? "returns from the method" : "throws out of the method", onlyIndex: null);
        foreach (ControlFlowRegion region in edge.Leaving)
        {
            foreach (ILocalSymbol local in region.Locals)
            {
                if (!_index.TryGetValue(local, out int i))
                    continue;
                if (_isLease[i])
                {
                    ReportLiveLeases("leaves the scope of the variable", onlyIndex: i);
                    _state.SetLease(i, Unassigned);
                }
                else
                {
                    _state.SetView(i, ViewUnknown, NoSource);
                }
            }
        }
    }

    private void ReportLiveLeases(string path, int? onlyIndex)
    {
        if (!_report)
            return;
        for (int i = 0; i < _locals.Count; i++)
        {
            if (!_isLease[i] || (onlyIndex is int only && only != i) || _state.Flags[i] != Live)
                continue;
            foreach (IOperation rent in _state.Rents[i])
                Report(LeaseDescriptors.LeaseLeaked, rent.Syntax.GetLocation(), _locals[i].Name, path);
        }
    }

    private void Visit(IOperation? operation)
    {
        switch (operation)
        {
            case null:
                return;
            case IFlowAnonymousFunctionOperation:
                return; // analysed as a graph of its own; what it captures is not tracked
            case ISimpleAssignmentOperation { IsRef: false } assignment
                when Variable(assignment.Target) is ISymbol target && _index.TryGetValue(target, out int assigned):
                Visit(assignment.Value);
                Assign(assigned, assignment.Value);
                return;
            case IInvocationOperation invocation:
                VisitInvocation(invocation);
                return;
            case IPropertyReferenceOperation property when LeaseOf(property.Instance) is int lease:
                foreach (IArgumentOperation argument in property.Arguments)
                    Visit(argument.Value);
                VisitLeaseProperty(property, lease);
                return;
            case ILocalReferenceOperation or IParameterReferenceOperation when _index.TryGetValue(Variable(operation)!, out int i):
                VisitOtherReference(operation, i);
                return;
            default:
                foreach (IOperation child in operation.ChildOperations)
                    Visit(child);
                return;
        }
    }

    private void Assign(int i, IOperation value)
    {
        if (_isLease[i])
        {
            ReportLiveLeases("overwrites the variable", onlyIndex: i);
            if (Unwrap(value) is IInvocationOperation invocation && _symbols.IsPoolMethod(invocation.TargetMethod, "Rent"))
            {
                if (invocation.Arguments.Length > 0 && IsZero(invocation.Arguments[0].Value))
                    _state.SetLease(i, Empty);
                else
                    _state.SetLease(i, Live, invocation);
            }
            else
                _state.SetLease(i, Unassigned);
            return;
        }

        switch (ViewRoot(value))
        {
            case (true, int lease):
                _state.SetView(i, ViewFresh, lease);
                break;
            case (false, int view):
                _state.SetView(i, _state.Flags[view], _state.Source[view]);
                break;
            default:
                _state.SetView(i, ViewUnknown, NoSource);
                break;
        }
    }

    private void VisitInvocation(IInvocationOperation invocation)
    {
        IMethodSymbol method = invocation.TargetMethod;
        ImmutableArray<IArgumentOperation> arguments = invocation.Arguments;

        bool returns = _symbols.IsPoolMethod(method, "Return");
        if ((returns || _symbols.IsPoolMethod(method, "Resize")) && arguments.Length > 0 && LeaseOf(arguments[0].Value) is int lease)
        {
            Visit(invocation.Instance);
            for (int a = 1; a < arguments.Length; a++)
                Visit(arguments[a].Value);
            if (returns)
            {
                if (IsEndedOnly(lease))
                    Report(LeaseDescriptors.ReturnedTwice, invocation.Syntax.GetLocation(), _locals[lease].Name);
                EndLease(lease, Returned);
            }
            else
            {
                if (IsEndedOnly(lease))
                    Report(LeaseDescriptors.UseAfterReturn, invocation.Syntax.GetLocation(), _locals[lease].Name, "Resize");
                StaleViews(lease, ViewResized);
                // Once Resize returns, the variable holds a valid lease again: the one it held (a live lease keeps its
                // Rent calls), or one rented afresh from an empty lease (of no Rent call here). Resize to 0 returns the
                // memory and leaves an empty lease.
                if (arguments.Length > 1 && IsZero(arguments[1].Value))
                    _state.SetLease(lease, Empty);
                else if ((_state.Flags[lease] & (Ended | Empty)) != 0)
                    _state.Flags[lease] = (byte)((_state.Flags[lease] & ~(Ended | Empty)) | Unassigned);
            }
            return;
        }

        if (LeaseOf(invocation.Instance) is int receiver)
        {
            foreach (IArgumentOperation argument in arguments)
                Visit(argument.Value);
            if (_symbols.IsDisposeMethod(method))
                EndLease(receiver, Disposed);
            else if (_symbols.IsLeaseMember(method, "AsSpan") || _symbols.IsLeaseMember(method, "AsMemory"))
                CheckUse(receiver, invocation, method.Name);
            else if (method.ContainingType.SpecialType is not (SpecialType.System_Object or SpecialType.System_ValueType) &&
                     !_symbols.IsLeaseMember(method, "ToString"))
                _state.SetLease(receiver, Escaped); // a member this analysis does not know
            return;
        }

        // `using` on a lease may call IDisposable.Dispose on the boxed value.
        if (_symbols.IsDisposeMethod(method) && invocation.Instance is IConversionOperation conversion && LeaseOf(conversion.Operand) is int boxed)
        {
            EndLease(boxed, Disposed);
            return;
        }

        foreach (IOperation child in invocation.ChildOperations)
            Visit(child);
    }

    private void VisitLeaseProperty(IPropertyReferenceOperation property, int lease)
    {
        IPropertySymbol symbol = property.Property;
        if (symbol.IsIndexer)
            CheckUse(lease, property, "the indexer");
        else if (_symbols.IsLeaseMember(symbol, "Pointer"))
            CheckUse(lease, property, "Pointer");
        else if (!_symbols.IsLeaseMember(symbol, "Length") && !_symbols.IsLeaseMember(symbol, "IsValid") && !_symbols.IsLeaseMember(symbol, "IsEmpty"))
            _state.SetLease(lease, Escaped);
    }

    private void VisitOtherReference(IOperation reference, int i)
    {
        if (_isLease[i])
        {
            // Passed on, stored, copied, returned, deconstructed: handed off as far as this analysis can tell.
            _state.SetLease(i, Escaped);
            return;
        }
        if (reference is ILocalReferenceOperation { IsDeclaration: true })
            return;
        // Written, not read (`out view`, `(view, n) = ...`): whatever it held before does not matter any more.
        if (IsWrittenOnly(reference))
        {
            _state.SetView(i, ViewUnknown, NoSource);
            return;
        }
        // A view's length survives its lease: reading it is harmless.
        if (reference.Parent is IPropertyReferenceOperation { Property.Name: "Length" or "IsEmpty" } && _symbols.IsSpanOrMemory(reference.Type))
            return;
        byte flags = _state.Flags[i];
        if (flags != 0 && (flags & ~ViewStale) == 0)
        {
            string what = flags == ViewResized ? "it was resized" : flags == ViewEnded ? "it was returned" : "it was resized or returned";
            int source = _state.Source[i];
            string leaseName = source >= 0 ? _locals[source].Name : "its lease";
            Report(LeaseDescriptors.StaleView, reference.Syntax.GetLocation(), _locals[i].Name, leaseName, what);
        }
    }

    /// <summary>A variable reference the code only writes: an <c>out</c> argument or a target of a deconstruction.</summary>
    private static bool IsWrittenOnly(IOperation reference)
    {
        if (reference.Parent is IArgumentOperation { Parameter.RefKind: RefKind.Out })
            return true;
        IOperation outermost = reference;
        while (outermost.Parent is ITupleOperation tuple)
            outermost = tuple;
        return outermost != reference && outermost.Parent is IDeconstructionAssignmentOperation deconstruction && deconstruction.Target == outermost;
    }

    private void CheckUse(int lease, IOperation use, string what)
    {
        if (IsEndedOnly(lease))
            Report(LeaseDescriptors.UseAfterReturn, use.Syntax.GetLocation(), _locals[lease].Name, what);
    }

    private bool IsEndedOnly(int lease)
    {
        byte flags = _state.Flags[lease];
        return flags != 0 && (flags & ~Ended) == 0;
    }

    private void EndLease(int lease, byte how)
    {
        // An empty lease holds no memory: returning or disposing it (any number of times) leaves it as it was.
        byte flags = _state.Flags[lease];
        byte after = (byte)(flags & Empty);
        if ((flags & ~Empty) != 0)
            after |= how;
        _state.SetLease(lease, after);
        StaleViews(lease, ViewEnded);
    }

    private void StaleViews(int lease, byte how)
    {
        for (int v = 0; v < _locals.Count; v++)
        {
            if (!_isLease[v] && _state.Source[v] == lease && (_state.Flags[v] & ViewFresh) != 0)
                _state.Flags[v] = (byte)((_state.Flags[v] & ~ViewFresh) | how);
        }
    }

    /// <summary>The tracked lease variable <paramref name="operation"/> reads, if it is one.</summary>
    private int? LeaseOf(IOperation? operation) =>
        Variable(operation) is ISymbol variable && _index.TryGetValue(variable, out int i) && _isLease[i] ? i : null;

    /// <summary>
    /// Where a view value comes from: (true, lease) for <c>lease.AsSpan(...)</c> or <c>lease.Pointer</c>, (false, view)
    /// for another tracked view local, through slices, span conversions and pointer arithmetic.
    /// </summary>
    private (bool FromLease, int Index)? ViewRoot(IOperation value)
    {
        IOperation operation = value;
        while (true)
        {
            switch (operation)
            {
                case IConversionOperation conversion:
                    operation = conversion.Operand;
                    continue;
                case IInvocationOperation invocation when LeaseOf(invocation.Instance) is int lease:
                    return _symbols.IsLeaseMember(invocation.TargetMethod, "AsSpan") || _symbols.IsLeaseMember(invocation.TargetMethod, "AsMemory")
                        ? (true, lease) : null;
                case IInvocationOperation { Instance: not null, TargetMethod.Name: "Slice" } slice when _symbols.IsSpanOrMemory(slice.Instance.Type):
                    operation = slice.Instance;
                    continue;
                case IPropertyReferenceOperation property when LeaseOf(property.Instance) is int lease:
                    return _symbols.IsLeaseMember(property.Property, "Pointer") ? (true, lease) : null;
                case IBinaryOperation { OperatorKind: BinaryOperatorKind.Add or BinaryOperatorKind.Subtract } arithmetic
                    when arithmetic.Type is IPointerTypeSymbol:
                    operation = arithmetic.LeftOperand.Type is IPointerTypeSymbol ? arithmetic.LeftOperand : arithmetic.RightOperand;
                    continue;
                case ILocalReferenceOperation or IParameterReferenceOperation
                    when _index.TryGetValue(Variable(operation)!, out int view) && !_isLease[view]:
                    return (false, view);
                default:
                    return null;
            }
        }
    }

    private static bool IsZero(IOperation operation) =>
        operation.ConstantValue is { HasValue: true, Value: 0 or 0L };

    private static IOperation Unwrap(IOperation operation)
    {
        while (operation is IConversionOperation { IsImplicit: true } conversion)
            operation = conversion.Operand;
        return operation;
    }

    private void Report(DiagnosticDescriptor descriptor, Location location, params object[] arguments)
    {
        if (_report && _reported.Add((descriptor.Id, location)))
            _reportDiagnostic(Diagnostic.Create(descriptor, location, arguments));
    }

    // ---- state ----------------------------------------------------------------------------------------------------

    /// <summary>The abstract values of every tracked local at one point.</summary>
    private sealed class State
    {
        public byte[] Flags = null!;
        /// <summary>Per lease: the Rent calls whose lease it may hold while Live.</summary>
        public ImmutableHashSet<IOperation>[] Rents = null!;
        /// <summary>Per view: the lease it was taken from (NoSource, or MixedSources when paths disagree).</summary>
        public int[] Source = null!;

        public static State Initial(List<bool> isLease)
        {
            int n = isLease.Count;
            var state = new State { Flags = new byte[n], Rents = new ImmutableHashSet<IOperation>[n], Source = new int[n] };
            for (int i = 0; i < n; i++)
            {
                state.Flags[i] = isLease[i] ? Unassigned : ViewUnknown;
                state.Rents[i] = ImmutableHashSet<IOperation>.Empty;
                state.Source[i] = NoSource;
            }
            return state;
        }

        public State Clone() =>
            new() { Flags = (byte[])Flags.Clone(), Rents = (ImmutableHashSet<IOperation>[])Rents.Clone(), Source = (int[])Source.Clone() };

        public void SetLease(int i, byte flags, IOperation? rent = null)
        {
            Flags[i] = flags;
            Rents[i] = rent is null ? ImmutableHashSet<IOperation>.Empty : ImmutableHashSet.Create(rent);
        }

        public void SetView(int i, byte flags, int source)
        {
            Flags[i] = flags;
            Source[i] = source;
        }

        /// <summary>Unions <paramref name="other"/> into this state; true if anything changed.</summary>
        public bool JoinWith(State other)
        {
            bool changed = false;
            for (int i = 0; i < Flags.Length; i++)
            {
                byte flags = (byte)(Flags[i] | other.Flags[i]);
                int source = Source[i];
                if (source != other.Source[i])
                {
                    // Views taken from different leases on different paths: stop following them.
                    source = MixedSources;
                    flags |= ViewUnknown;
                }
                ImmutableHashSet<IOperation> rents = Rents[i].Union(other.Rents[i]);
                if (flags != Flags[i] || source != Source[i] || rents.Count != Rents[i].Count)
                {
                    Flags[i] = flags;
                    Source[i] = source;
                    Rents[i] = rents;
                    changed = true;
                }
            }
            return changed;
        }
    }
}
