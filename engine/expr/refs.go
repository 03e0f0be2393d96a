package expr

// Refs calls use with the index of every column e reads. It reports false
// when e holds an expression it does not know (the caller must then assume
// every column is read).
func Refs(e Expr, use func(int)) bool {
	switch x := e.(type) {
	case nil, *Const, *Param, *OuterCol:
		return true
	case *Col:
		use(x.Idx)
		return true
	case *Arith:
		return Refs(x.L, use) && Refs(x.R, use)
	case *Compare:
		return Refs(x.L, use) && Refs(x.R, use)
	case *Cast:
		return Refs(x.E, use)
	case *Neg:
		return Refs(x.E, use)
	case *Not:
		return Refs(x.E, use)
	case *IsNull:
		return Refs(x.E, use)
	case *IsBool:
		return Refs(x.E, use)
	case *Call:
		return refsAll(x.Args, use)
	case *Coalesce:
		return refsAll(x.Args, use)
	case *Logic:
		return refsAll(x.Args, use)
	case *InList:
		return Refs(x.E, use) && refsAll(x.List, use)
	case *Case:
		return refsAll(x.Whens, use) && refsAll(x.Thens, use) && Refs(x.Else, use)
	case *FieldOf:
		return Refs(x.E, use)
	}
	return false
}

func refsAll(es []Expr, use func(int)) bool {
	for _, e := range es {
		if !Refs(e, use) {
			return false
		}
	}
	return true
}

// Varies reports whether e may give a row different values from one
// evaluation to the next — it calls a volatile function such as random()
// or clock_timestamp() — or holds an expression it cannot see into. Such
// a condition stays where the query put it (never moved below a join).
func Varies(e Expr) bool {
	switch x := e.(type) {
	case nil, *Const, *Param, *OuterCol, *Col:
		return false
	case *Arith:
		return Varies(x.L) || Varies(x.R)
	case *Compare:
		return Varies(x.L) || Varies(x.R)
	case *Cast:
		return Varies(x.E)
	case *Neg:
		return Varies(x.E)
	case *Not:
		return Varies(x.E)
	case *IsNull:
		return Varies(x.E)
	case *IsBool:
		return Varies(x.E)
	case *Call:
		return x.F.Volatile && !x.F.SessionConstant || variesAny(x.Args)
	case *Coalesce:
		return variesAny(x.Args)
	case *Logic:
		return variesAny(x.Args)
	case *InList:
		return Varies(x.E) || variesAny(x.List)
	case *Case:
		return variesAny(x.Whens) || variesAny(x.Thens) || Varies(x.Else)
	case *FieldOf:
		return Varies(x.E)
	}
	return true
}

func variesAny(es []Expr) bool {
	for _, e := range es {
		if Varies(e) {
			return true
		}
	}
	return false
}
