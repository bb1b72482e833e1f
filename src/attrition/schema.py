"""The HR record contract: one definition of the employee record.

Follows the IBM HR Analytics attrition data set (35 columns) so users can bring
that file or their own HRIS export with the same columns. Everything else reads
this module: validation, the database model, the API request model, the UI form,
the generator and the drift column map.

Range strictness, per integer column:

* ``hard`` bounds are what the field can mean at all (a 1-4 survey scale, a
  non-negative count, a working-age person). A value outside them is an error:
  the row is rejected with the column and the reason.
* ``soft`` bounds are the range seen in the reference data set. A value outside
  them but inside the hard bounds is plausible (an employee aged 61, a salary
  above 19,999) and is *kept*, with a warning in the ingest report, so it is
  neither thrown away nor accepted silently.

Cross-field rules follow the same split: tenure nesting is a hard rule; the
"started work at 14 or later" rule is a warning, because it is only roughly true.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # annotations only: attrition.config (so every command) imports this module
    import pandas as pd


class Col(StrEnum):
    """Column names of the contract, in the IBM file's order."""

    AGE = "Age"
    ATTRITION = "Attrition"
    BUSINESS_TRAVEL = "BusinessTravel"
    DAILY_RATE = "DailyRate"
    DEPARTMENT = "Department"
    DISTANCE_FROM_HOME = "DistanceFromHome"
    EDUCATION = "Education"
    EDUCATION_FIELD = "EducationField"
    EMPLOYEE_COUNT = "EmployeeCount"
    EMPLOYEE_NUMBER = "EmployeeNumber"
    ENVIRONMENT_SATISFACTION = "EnvironmentSatisfaction"
    GENDER = "Gender"
    HOURLY_RATE = "HourlyRate"
    JOB_INVOLVEMENT = "JobInvolvement"
    JOB_LEVEL = "JobLevel"
    JOB_ROLE = "JobRole"
    JOB_SATISFACTION = "JobSatisfaction"
    MARITAL_STATUS = "MaritalStatus"
    MONTHLY_INCOME = "MonthlyIncome"
    MONTHLY_RATE = "MonthlyRate"
    NUM_COMPANIES_WORKED = "NumCompaniesWorked"
    OVER18 = "Over18"
    OVERTIME = "OverTime"
    PERCENT_SALARY_HIKE = "PercentSalaryHike"
    PERFORMANCE_RATING = "PerformanceRating"
    RELATIONSHIP_SATISFACTION = "RelationshipSatisfaction"
    STANDARD_HOURS = "StandardHours"
    STOCK_OPTION_LEVEL = "StockOptionLevel"
    TOTAL_WORKING_YEARS = "TotalWorkingYears"
    TRAINING_TIMES_LAST_YEAR = "TrainingTimesLastYear"
    WORK_LIFE_BALANCE = "WorkLifeBalance"
    YEARS_AT_COMPANY = "YearsAtCompany"
    YEARS_IN_CURRENT_ROLE = "YearsInCurrentRole"
    YEARS_SINCE_LAST_PROMOTION = "YearsSinceLastPromotion"
    YEARS_WITH_CURR_MANAGER = "YearsWithCurrManager"


Kind = Literal["id", "target", "constant", "categorical", "integer"]

#: Label values of the target column.
ATTRITION_YES = "Yes"
ATTRITION_NO = "No"

#: Extra column the ingest adds: the date the HRIS snapshot describes.
SNAPSHOT_DATE = "snapshot_date"


@dataclass(frozen=True)
class ColumnSpec:
    """How one contract column looks and how strictly it is checked."""

    name: Col
    kind: Kind
    description: str
    categories: tuple[str, ...] = ()
    hard_min: int | None = None
    hard_max: int | None = None
    soft_min: int | None = None
    soft_max: int | None = None
    constant: str | int | None = None

    @property
    def is_feature(self) -> bool:
        """True for columns a model may learn from (not id, target or constants)."""
        return self.kind in ("categorical", "integer")

    @property
    def max_length(self) -> int:
        """String length for database columns: longest category, with headroom."""
        longest = max((len(c) for c in self.categories), default=8)
        return max(16, longest + 8)


def _int(
    name: Col, description: str, soft: tuple[int, int], hard: tuple[int, int] | None = None
) -> ColumnSpec:
    hard = hard or soft
    return ColumnSpec(
        name, "integer", description, hard_min=hard[0], hard_max=hard[1], soft_min=soft[0], soft_max=soft[1]
    )


def _cat(name: Col, description: str, *categories: str) -> ColumnSpec:
    return ColumnSpec(name, "categorical", description, categories=categories)


_SCALE_1_4 = (1, 4)

COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(Col.EMPLOYEE_NUMBER, "id", "Employee identifier", hard_min=1, hard_max=2_000_000_000),
    ColumnSpec(
        Col.ATTRITION, "target", "Whether the employee left", categories=(ATTRITION_YES, ATTRITION_NO)
    ),
    ColumnSpec(Col.EMPLOYEE_COUNT, "constant", "Always 1 in the source data", constant=1),
    ColumnSpec(Col.OVER18, "constant", "Always Y in the source data", constant="Y"),
    ColumnSpec(Col.STANDARD_HOURS, "constant", "Always 80 in the source data", constant=80),
    _int(Col.AGE, "Age in years", soft=(18, 60), hard=(14, 100)),
    _cat(
        Col.BUSINESS_TRAVEL,
        "How often the employee travels",
        "Travel_Rarely",
        "Travel_Frequently",
        "Non-Travel",
    ),
    _int(Col.DAILY_RATE, "Daily rate", soft=(102, 1499), hard=(1, 100_000)),
    _cat(Col.DEPARTMENT, "Department", "Research & Development", "Sales", "Human Resources"),
    _int(Col.DISTANCE_FROM_HOME, "Commute distance", soft=(1, 29), hard=(0, 500)),
    _int(Col.EDUCATION, "1 Below College, 2 College, 3 Bachelor, 4 Master, 5 Doctor", soft=(1, 5)),
    _cat(
        Col.EDUCATION_FIELD,
        "Field of education",
        "Life Sciences",
        "Medical",
        "Marketing",
        "Technical Degree",
        "Other",
        "Human Resources",
    ),
    _int(Col.ENVIRONMENT_SATISFACTION, "1 Low .. 4 Very High", soft=_SCALE_1_4),
    _cat(Col.GENDER, "Gender", "Male", "Female"),
    _int(Col.HOURLY_RATE, "Hourly rate", soft=(30, 100), hard=(1, 10_000)),
    _int(Col.JOB_INVOLVEMENT, "1 Low .. 4 Very High", soft=_SCALE_1_4),
    _int(Col.JOB_LEVEL, "Job level 1 (entry) .. 5 (executive)", soft=(1, 5)),
    _cat(
        Col.JOB_ROLE,
        "Job role",
        "Sales Executive",
        "Research Scientist",
        "Laboratory Technician",
        "Manufacturing Director",
        "Healthcare Representative",
        "Manager",
        "Sales Representative",
        "Research Director",
        "Human Resources",
    ),
    _int(Col.JOB_SATISFACTION, "1 Low .. 4 Very High", soft=_SCALE_1_4),
    _cat(Col.MARITAL_STATUS, "Marital status", "Married", "Single", "Divorced"),
    _int(Col.MONTHLY_INCOME, "Monthly income", soft=(1009, 19999), hard=(1, 1_000_000)),
    _int(Col.MONTHLY_RATE, "Monthly rate", soft=(2094, 26999), hard=(1, 1_000_000)),
    _int(Col.NUM_COMPANIES_WORKED, "Previous employers", soft=(0, 9), hard=(0, 40)),
    _cat(Col.OVERTIME, "Works overtime", "Yes", "No"),
    _int(Col.PERCENT_SALARY_HIKE, "Last salary increase, percent", soft=(11, 25), hard=(0, 100)),
    _int(Col.PERFORMANCE_RATING, "1 Low .. 4 Outstanding (observed 3-4)", soft=(3, 4), hard=_SCALE_1_4),
    _int(Col.RELATIONSHIP_SATISFACTION, "1 Low .. 4 Very High", soft=_SCALE_1_4),
    _int(Col.STOCK_OPTION_LEVEL, "Stock option level", soft=(0, 3)),
    _int(Col.TOTAL_WORKING_YEARS, "Years of working life", soft=(0, 40), hard=(0, 70)),
    _int(Col.TRAINING_TIMES_LAST_YEAR, "Trainings last year", soft=(0, 6), hard=(0, 50)),
    _int(Col.WORK_LIFE_BALANCE, "1 Bad .. 4 Best", soft=_SCALE_1_4),
    _int(Col.YEARS_AT_COMPANY, "Tenure in years", soft=(0, 40), hard=(0, 70)),
    _int(Col.YEARS_IN_CURRENT_ROLE, "Years in current role", soft=(0, 18), hard=(0, 70)),
    _int(Col.YEARS_SINCE_LAST_PROMOTION, "Years since last promotion", soft=(0, 15), hard=(0, 70)),
    _int(Col.YEARS_WITH_CURR_MANAGER, "Years with current manager", soft=(0, 17), hard=(0, 70)),
)

SPECS: dict[str, ColumnSpec] = {spec.name.value: spec for spec in COLUMNS}

#: Every contract column, in file order.
ALL_COLUMNS: tuple[str, ...] = tuple(s.name.value for s in COLUMNS)
ID_COLUMN: str = Col.EMPLOYEE_NUMBER.value
TARGET: str = Col.ATTRITION.value
CONSTANT_COLUMNS: tuple[str, ...] = tuple(s.name.value for s in COLUMNS if s.kind == "constant")
CATEGORICAL_COLUMNS: tuple[str, ...] = tuple(s.name.value for s in COLUMNS if s.kind == "categorical")
INTEGER_COLUMNS: tuple[str, ...] = tuple(s.name.value for s in COLUMNS if s.kind == "integer")
#: Columns a model may use (protected attributes are removed later, by setting).
FEATURE_COLUMNS: tuple[str, ...] = tuple(s.name.value for s in COLUMNS if s.is_feature)
#: Columns a record must carry to be scored (the target is optional for scoring).
RECORD_COLUMNS: tuple[str, ...] = tuple(c for c in ALL_COLUMNS if c != TARGET)


@dataclass(frozen=True)
class CrossFieldRule:
    """``left <= right (+ offset)`` between two columns of one record."""

    left: str
    right: str
    offset: int = 0
    hard: bool = True

    @property
    def description(self) -> str:
        tail = f" {self.offset:+d}" if self.offset else ""
        return f"{self.left} <= {self.right}{tail}"

    def violated(self, frame: pd.DataFrame) -> pd.Series:
        """Boolean mask of rows that break the rule (missing values do not count)."""
        return frame[self.left] > frame[self.right] + self.offset


CROSS_FIELD_RULES: tuple[CrossFieldRule, ...] = (
    CrossFieldRule(Col.YEARS_IN_CURRENT_ROLE, Col.YEARS_AT_COMPANY),
    CrossFieldRule(Col.YEARS_WITH_CURR_MANAGER, Col.YEARS_AT_COMPANY),
    CrossFieldRule(Col.YEARS_SINCE_LAST_PROMOTION, Col.YEARS_AT_COMPANY),
    CrossFieldRule(Col.YEARS_AT_COMPANY, Col.TOTAL_WORKING_YEARS),
    # Working life starts at about 14 at the earliest: plausible-but-odd, so a warning.
    CrossFieldRule(Col.TOTAL_WORKING_YEARS, Col.AGE, offset=-14, hard=False),
)

#: Which department each job role belongs to (a role listed twice is shared).
ROLE_DEPARTMENTS: dict[str, tuple[str, ...]] = {
    "Sales Executive": ("Sales",),
    "Sales Representative": ("Sales",),
    "Manager": ("Sales", "Research & Development", "Human Resources"),
    "Research Scientist": ("Research & Development",),
    "Laboratory Technician": ("Research & Development",),
    "Manufacturing Director": ("Research & Development",),
    "Healthcare Representative": ("Research & Development",),
    "Research Director": ("Research & Development",),
    "Human Resources": ("Human Resources",),
}


#: A valid record (the first employee of the IBM file): docs, API examples, UI defaults.
EXAMPLE_RECORD: dict[str, str | int] = {
    "Age": 41,
    "Attrition": "Yes",
    "BusinessTravel": "Travel_Rarely",
    "DailyRate": 1102,
    "Department": "Sales",
    "DistanceFromHome": 1,
    "Education": 2,
    "EducationField": "Life Sciences",
    "EmployeeCount": 1,
    "EmployeeNumber": 1,
    "EnvironmentSatisfaction": 2,
    "Gender": "Female",
    "HourlyRate": 94,
    "JobInvolvement": 3,
    "JobLevel": 2,
    "JobRole": "Sales Executive",
    "JobSatisfaction": 4,
    "MaritalStatus": "Single",
    "MonthlyIncome": 5993,
    "MonthlyRate": 19479,
    "NumCompaniesWorked": 8,
    "Over18": "Y",
    "OverTime": "Yes",
    "PercentSalaryHike": 11,
    "PerformanceRating": 3,
    "RelationshipSatisfaction": 1,
    "StandardHours": 80,
    "StockOptionLevel": 0,
    "TotalWorkingYears": 8,
    "TrainingTimesLastYear": 0,
    "WorkLifeBalance": 1,
    "YearsAtCompany": 6,
    "YearsInCurrentRole": 4,
    "YearsSinceLastPromotion": 0,
    "YearsWithCurrManager": 5,
}
