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
